/**
 * `Sec-WebSocket-Extensions` (RFC 6455 §9.1, tokens and quoted-strings of RFC 7230 §3.2.6).
 *
 * The parser is a single left-to-right pass with no regular expressions and no backtracking: each
 * character is looked at once, so the time is linear in the header length, which is itself capped.
 */

/** One extension parameter: `name` alone (value `true`) or `name=value`. */
export interface ExtensionParam {
  name: string;
  value: string | true;
}

/** One element of the extension list: a name and its parameters, in header order. */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

/** Limits applied while parsing (all inputs come from the peer). */
export interface ExtensionParseLimits {
  /** Longest header value accepted, in characters. Default 4096. */
  maxLength?: number;
  /** Most list elements (offers). Default 16. */
  maxOffers?: number;
  /** Most parameters in one element. Default 16. */
  maxParams?: number;
}

/** Result of {@link parseExtensions}. */
export type ExtensionParseResult = { ok: true; offers: ExtensionOffer[] } | { ok: false; reason: string };

/** Default parse limits. */
export const DEFAULT_EXTENSION_LIMITS: Readonly<Required<ExtensionParseLimits>> = {
  maxLength: 4096,
  maxOffers: 16,
  maxParams: 16,
};

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** Whether `c` (a char code) is an RFC 7230 tchar. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

/** Whether `s` is a non-empty RFC 7230 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into its elements. Names and parameter names are
 * lower-cased; a quoted value is unescaped and must then be a token (RFC 6455 §9.1). Empty list
 * elements are skipped (RFC 7230 §7). Never throws.
 */
export function parseExtensions(header: string, limits: ExtensionParseLimits = {}): ExtensionParseResult {
  const maxLength = limits.maxLength ?? DEFAULT_EXTENSION_LIMITS.maxLength;
  const maxOffers = limits.maxOffers ?? DEFAULT_EXTENSION_LIMITS.maxOffers;
  const maxParams = limits.maxParams ?? DEFAULT_EXTENSION_LIMITS.maxParams;
  if (header.length > maxLength) return { ok: false, reason: `Extensions header longer than ${maxLength}` };
  const len = header.length;
  const offers: ExtensionOffer[] = [];
  let i = 0;

  const skipOws = (): void => {
    while (i < len) {
      const c = header.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09) break;
      i++;
    }
  };
  const readToken = (): string => {
    const start = i;
    while (i < len && isTokenChar(header.charCodeAt(i))) i++;
    return header.slice(start, i);
  };
  /** Reads a quoted-string at `i` (which is a DQUOTE); returns undefined if malformed. */
  const readQuoted = (): string | undefined => {
    i++; // opening quote
    let out = '';
    let start = i;
    while (i < len) {
      const c = header.charCodeAt(i);
      if (c === 0x22) {
        out += header.slice(start, i);
        i++;
        return out;
      }
      if (c === 0x5c) {
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        out += header.slice(start, i);
        i++;
        if (i >= len) return undefined;
        const e = header.charCodeAt(i);
        if (!(e === 0x09 || (e >= 0x20 && e !== 0x7f && e <= 0xff))) return undefined;
        out += header[i];
        i++;
        start = i;
        continue;
      }
      // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
      if (!(c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff))) return undefined;
      i++;
    }
    return undefined; // unterminated
  };

  while (i < len) {
    skipOws();
    if (i >= len) break;
    if (header.charCodeAt(i) === 0x2c) {
      i++; // empty element
      continue;
    }
    const name = readToken();
    if (name.length === 0) return { ok: false, reason: `Expected an extension name at ${i}` };
    const params: ExtensionParam[] = [];
    skipOws();
    while (i < len && header.charCodeAt(i) === 0x3b) {
      i++;
      skipOws();
      const pname = readToken();
      if (pname.length === 0) return { ok: false, reason: `Expected a parameter name at ${i}` };
      skipOws();
      let value: string | true = true;
      if (i < len && header.charCodeAt(i) === 0x3d) {
        i++;
        skipOws();
        if (i < len && header.charCodeAt(i) === 0x22) {
          const q = readQuoted();
          if (q === undefined) return { ok: false, reason: 'Malformed quoted-string' };
          if (!isToken(q)) return { ok: false, reason: 'Quoted parameter value is not a token' };
          value = q;
        } else {
          value = readToken();
          if (value.length === 0) return { ok: false, reason: `Expected a parameter value at ${i}` };
        }
        skipOws();
      }
      if (params.length >= maxParams) return { ok: false, reason: `More than ${maxParams} parameters` };
      params.push({ name: pname.toLowerCase(), value });
    }
    if (i < len) {
      if (header.charCodeAt(i) !== 0x2c) return { ok: false, reason: `Unexpected character at ${i}` };
      i++;
    }
    if (offers.length >= maxOffers) return { ok: false, reason: `More than ${maxOffers} extensions` };
    offers.push({ name: name.toLowerCase(), params });
  }
  return { ok: true, offers };
}

/** Formats one extension element, e.g. `permessage-deflate; client_max_window_bits=10`. */
export function formatExtension(offer: ExtensionOffer): string {
  let s = offer.name;
  for (const p of offer.params) {
    s += p.value === true ? `; ${p.name}` : isToken(p.value) ? `; ${p.name}=${p.value}` : `; ${p.name}="${p.value.replace(/(["\\])/g, '\\$1')}"`;
  }
  return s;
}

/** Formats an extension list for a `Sec-WebSocket-Extensions` header. */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers.map(formatExtension).join(', ');
}
