/**
 * The tester's own permessage-deflate (RFC 7692), on `node:zlib` streams and independent of
 * `@stelar/codec-ws`: parameter formatting and parsing, and one compressor and one decompressor
 * per direction with the negotiated window size and context-takeover rule.
 *
 * The decompressor is deliberately strict: it inflates with exactly the window the peer agreed to
 * use and, without context takeover, with a fresh stream per message, so a peer that compresses
 * with a bigger window or keeps its context fails to inflate here (zlib: "invalid distance too
 * far back").
 *
 * zlib checks a back-reference against the window only when it reaches past the output of the
 * current inflate call: with its usual 16 KiB output chunks, a reference 600 bytes back inside one
 * message passes at window bits 9. So, below window bits 15, every message is inflated a second
 * time, synchronously, in 64-byte output chunks (zlib's minimum) with the window the stream had
 * before the message as its dictionary: there a reference can reach at most 63 bytes past the
 * window unnoticed. (At 15 nothing can: DEFLATE distances stop at 32 KiB.)
 */
import * as zlib from 'node:zlib';

export interface PmdParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** Undefined: parameter absent (15 applies). */
  serverMaxWindowBits: number | undefined;
  /** Undefined: absent; `true`: present without a value (offers only). */
  clientMaxWindowBits: number | true | undefined;
}

export const NO_PARAMS: PmdParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: undefined,
  clientMaxWindowBits: undefined,
};

/** `permessage-deflate; server_no_context_takeover; …` */
export function formatPmd(p: Partial<PmdParams>): string {
  const parts = ['permessage-deflate'];
  if (p.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (p.clientNoContextTakeover) parts.push('client_no_context_takeover');
  if (p.serverMaxWindowBits !== undefined) parts.push(`server_max_window_bits=${p.serverMaxWindowBits}`);
  if (p.clientMaxWindowBits === true) parts.push('client_max_window_bits');
  else if (p.clientMaxWindowBits !== undefined) parts.push(`client_max_window_bits=${p.clientMaxWindowBits}`);
  return parts.join('; ');
}

/**
 * Parses one permessage-deflate element's parameters. `offer` mode allows
 * `client_max_window_bits` without a value; `response` mode does not. Returns a reason string
 * for an unknown, duplicated or invalid parameter.
 */
export function parsePmdParams(params: readonly string[], mode: 'offer' | 'response'): PmdParams | string {
  const out: PmdParams = { ...NO_PARAMS };
  const seen = new Set<string>();
  for (const p of params) {
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim();
    let val = eq < 0 ? undefined : p.slice(eq + 1).trim();
    if (val !== undefined && val.length >= 2 && val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1);
    if (seen.has(key)) return `duplicate parameter ${key}`;
    seen.add(key);
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (val !== undefined) return `${key} takes no value`;
        if (key === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        if (val === undefined && key === 'client_max_window_bits' && mode === 'offer') {
          out.clientMaxWindowBits = true;
          break;
        }
        if (val === undefined || !/^(8|9|1[0-5])$/.test(val)) return `${key} needs a value in 8..15 (got ${String(val)})`;
        if (key === 'server_max_window_bits') out.serverMaxWindowBits = Number(val);
        else out.clientMaxWindowBits = Number(val);
        break;
      }
      default:
        return `unknown parameter ${key}`;
    }
  }
  return out;
}

function elements(value: string): { name: string; params: string[] }[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((e) => {
      const [name, ...params] = e.split(';').map((s) => s.trim());
      return { name: name!, params: params.filter(Boolean) };
    });
}

/**
 * Parses a `Sec-WebSocket-Extensions` response value: exactly one permessage-deflate element with
 * valid parameters. Returns a reason string otherwise, or undefined when absent or empty.
 */
export function parsePmdResponse(value: string | undefined): PmdParams | string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const els = elements(value);
  if (els.length !== 1) return `expected one extension, got ${els.length}`;
  if (els[0]!.name !== 'permessage-deflate') return `unexpected extension ${els[0]!.name}`;
  return parsePmdParams(els[0]!.params, 'response');
}

/** The valid permessage-deflate offers of a request header, in order (invalid ones skipped). */
export function parsePmdOffers(value: string): PmdParams[] {
  const out: PmdParams[] = [];
  for (const e of elements(value)) {
    if (e.name !== 'permessage-deflate') continue;
    const p = parsePmdParams(e.params, 'offer');
    if (typeof p !== 'string') out.push(p);
  }
  return out;
}

/**
 * Whether a server's response may answer an offer (RFC 7692 §7.1): a requested
 * server_no_context_takeover is acknowledged, server_max_window_bits is at most the requested
 * value, client_max_window_bits appears only when offered and is at most the offered value.
 * Returns the problem, or undefined.
 */
export function responseProblem(offer: PmdParams, r: PmdParams): string | undefined {
  if (offer.serverNoContextTakeover && !r.serverNoContextTakeover) return 'server_no_context_takeover requested but not acknowledged';
  if (offer.serverMaxWindowBits !== undefined) {
    if (r.serverMaxWindowBits === undefined) return 'server_max_window_bits requested but not acknowledged';
    if (r.serverMaxWindowBits > offer.serverMaxWindowBits) return `server_max_window_bits=${r.serverMaxWindowBits} above the requested ${offer.serverMaxWindowBits}`;
  }
  if (r.clientMaxWindowBits !== undefined) {
    if (offer.clientMaxWindowBits === undefined) return 'client_max_window_bits in the response without an offer';
    if (typeof offer.clientMaxWindowBits === 'number' && (r.clientMaxWindowBits as number) > offer.clientMaxWindowBits) {
      return `client_max_window_bits=${String(r.clientMaxWindowBits)} above the offered ${offer.clientMaxWindowBits}`;
    }
  }
  return undefined;
}

/** What both ends must do after `response` accepted `offer`: the client's own declarations hold too. */
export function agreed(offer: PmdParams, response: PmdParams): PmdParams {
  return {
    serverNoContextTakeover: response.serverNoContextTakeover,
    clientNoContextTakeover: response.clientNoContextTakeover || offer.clientNoContextTakeover,
    serverMaxWindowBits: response.serverMaxWindowBits,
    clientMaxWindowBits:
      response.clientMaxWindowBits !== undefined && response.clientMaxWindowBits !== true
        ? response.clientMaxWindowBits
        : typeof offer.clientMaxWindowBits === 'number'
          ? offer.clientMaxWindowBits
          : undefined,
  };
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function run(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined, out?: Buffer): void => {
      if (done) return;
      done = true;
      stream.off('data', onData);
      stream.off('error', onError);
      if (err) reject(err);
      else resolve(out!);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
      if (size > limit) {
        finish(new Error(`inflated size over ${limit} bytes`));
        stream.destroy();
      }
    };
    const onError = (e: Error): void => finish(e);
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(undefined, Buffer.concat(chunks, size)));
  });
}

/** One direction's compressor. */
export class TesterDeflater {
  private stream: zlib.DeflateRaw | undefined;
  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
    private readonly level = 6,
  ) {}

  /** Compresses one whole message (the trailing 00 00 ff ff removed, RFC 7692 §7.2.1). */
  async compress(data: Buffer): Promise<Buffer> {
    this.stream ??= zlib.createDeflateRaw({ windowBits: Math.max(9, this.windowBits), level: this.level, memLevel: 8 });
    let out = await run(this.stream, data, Infinity);
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER)) out = out.subarray(0, out.length - 4);
    if (this.noContextTakeover) this.reset();
    // An empty message compresses to the single empty stored block 0x00 (§7.2.3.6).
    return out.length === 0 ? Buffer.from([0x00]) : out;
  }

  reset(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

/** zlib's smallest output chunk: the granularity of the window check. */
const CHECK_CHUNK = 64;

/** One direction's decompressor. */
export class TesterInflater {
  private stream: zlib.InflateRaw | undefined;
  /** The last 2^windowBits bytes the current context produced: what a reference may reach. */
  private window = Buffer.alloc(0);
  constructor(
    private readonly windowBits: number,
    private readonly noContextTakeover: boolean,
  ) {}

  /** Inflates one whole message (its frames' payloads concatenated). */
  async inflate(data: Buffer, limit = 64 * 1024 * 1024): Promise<Buffer> {
    if (!this.stream || this.stream.destroyed || this.ended) {
      this.reset();
      const s = zlib.createInflateRaw({ windowBits: this.windowBits });
      // A BFINAL block ends the stream: the next message needs a new one.
      s.once('end', () => {
        if (this.stream === s) this.ended = true;
      });
      this.stream = s;
    }
    const input = Buffer.concat([data, TRAILER]);
    try {
      const out = await run(this.stream, input, limit);
      this.checkWindow(input, out, limit);
      if (!this.noContextTakeover && !this.ended) {
        const size = 1 << this.windowBits;
        this.window = out.length >= size ? Buffer.from(out.subarray(out.length - size)) : Buffer.concat([this.window, out]).subarray(-size);
      }
      return out;
    } catch (err) {
      this.reset();
      const message = (err as Error).message;
      // A reference before the window (e.g. into an earlier message, from a peer whose window is bigger).
      if (/too far back/.test(message)) throw new Error(`a back-reference reaches past the negotiated ${1 << this.windowBits}-byte window (${message})`);
      throw err;
    } finally {
      if (this.noContextTakeover) this.reset();
    }
  }

  /**
   * Inflates the message again in 64-byte output chunks, from the window the stream had before
   * it: zlib then refuses any back-reference more than 63 bytes past the window.
   */
  private checkWindow(input: Buffer, out: Buffer, limit: number): void {
    if (this.windowBits >= 15) return;
    let again: Buffer;
    try {
      again = zlib.inflateRawSync(input, {
        windowBits: this.windowBits,
        chunkSize: CHECK_CHUNK,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.max(limit, 1),
        ...(this.window.length > 0 ? { dictionary: this.window } : {}),
      });
    } catch (err) {
      throw new Error(`a back-reference reaches past the negotiated ${1 << this.windowBits}-byte window (${(err as Error).message})`);
    }
    if (!again.equals(out)) throw new Error('inflated differently from the negotiated window (a back-reference past it?)');
  }

  private ended = false;

  reset(): void {
    this.stream?.close();
    this.stream = undefined;
    this.ended = false;
    this.window = Buffer.alloc(0);
  }
}

/** One-shot raw deflate of `data` (a fresh context), trailer removed: for bombs and odd streams. */
export function deflateOnce(data: Buffer, options: { windowBits?: number; final?: boolean; level?: number } = {}): Buffer {
  const opts = { windowBits: options.windowBits ?? 15, level: options.level ?? 9 };
  if (options.final) return zlib.deflateRawSync(data, opts); // BFINAL set, no trailer
  const out = zlib.deflateRawSync(data, { ...opts, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(out.length - 4).equals(TRAILER) ? out.subarray(0, out.length - 4) : out;
}
