/**
 * RFC 7692 permessage-deflate negotiation (§7): the server's answer to an offer, the client's
 * offer and its check of the answer. The transform itself is permessage-deflate.ts.
 */
import { WsHandshakeError } from './errors';
import type { ExtensionOffer, ExtensionParam } from './extensions';

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Negotiated permessage-deflate parameters (both directions). */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** LZ77 window (log2) the server compresses with at most, 8..15. */
  serverMaxWindowBits: number;
  /** LZ77 window (log2) the client compresses with at most, 8..15. */
  clientMaxWindowBits: number;
}

/** Server policy for accepting offers. */
export interface PerMessageDeflateServerOptions {
  /** Always answer `server_no_context_takeover` (saves memory, costs ratio). Default false. */
  serverNoContextTakeover?: boolean;
  /** Always answer `client_no_context_takeover`. Default false (echoed if the client offered it). */
  clientNoContextTakeover?: boolean;
  /** Cap on the server's own window (8..15). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Cap on the client's window (8..15). Offers without `client_max_window_bits` are then declined,
   * since the server may not send that parameter unprompted (§7.1.2.2). Default: no cap.
   */
  clientMaxWindowBits?: number;
}

/** What a client offers. */
export interface PerMessageDeflateClientOptions {
  /** Ask the server not to use context takeover. Default false. */
  serverNoContextTakeover?: boolean;
  /** Declare that the client will not use context takeover. Default false. */
  clientNoContextTakeover?: boolean;
  /** Ask the server to use at most this window (8..15). Default: not offered. */
  serverMaxWindowBits?: number;
  /**
   * `true` (default): offer `client_max_window_bits` without a value (the server may then limit
   * our window); a number: offer it with that limit; `false`: leave it out.
   */
  clientMaxWindowBits?: number | boolean;
}

const WINDOW_BITS_VALUES = new Map<string, number>([
  ['8', 8],
  ['9', 9],
  ['10', 10],
  ['11', 11],
  ['12', 12],
  ['13', 13],
  ['14', 14],
  ['15', 15],
]);

function checkWindowBits(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 8 && v <= 15)) {
    throw new WsHandshakeError('WS_HANDSHAKE_INVALID_ARGUMENT', `${name} must be an integer in 8..15`);
  }
}

interface ParsedParams {
  server_no_context_takeover?: true;
  client_no_context_takeover?: true;
  server_max_window_bits?: number;
  client_max_window_bits?: number | true;
}

/**
 * Validates an element's parameters. `mode` selects the offer rules (client_max_window_bits may
 * have no value) or the response rules (it must have one). Returns a reason string on failure:
 * an unknown parameter, a duplicate, or an invalid value (window bits outside 8..15, leading
 * zeros, a value on a flag).
 */
function parseParams(params: readonly ExtensionParam[], mode: 'offer' | 'response'): ParsedParams | string {
  const out: ParsedParams = {};
  for (const { name, value } of params) {
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (out[name] !== undefined) return `Duplicate parameter ${name}`;
        if (value !== true) return `Parameter ${name} takes no value`;
        out[name] = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        if (out[name] !== undefined) return `Duplicate parameter ${name}`;
        if (value === true) {
          if (name === 'client_max_window_bits' && mode === 'offer') {
            out.client_max_window_bits = true;
            break;
          }
          return `Parameter ${name} needs a value`;
        }
        const bits = WINDOW_BITS_VALUES.get(value);
        if (bits === undefined) return `Invalid value for ${name}: ${value}`;
        out[name] = bits;
        break;
      }
      default:
        return `Unknown parameter ${name}`;
    }
  }
  return out;
}

/** Result of a successful server negotiation. */
export interface DeflateNegotiation {
  /** Parameters for the connection's {@link PerMessageDeflate}. */
  params: DeflateParams;
  /** The element to send back in `Sec-WebSocket-Extensions`. */
  response: ExtensionOffer;
}

/**
 * Server side (§7.1): picks the first acceptable `permessage-deflate` offer. Offers with unknown
 * or duplicate parameters or invalid values are declined and the next offer is tried. Returns
 * undefined when every offer is declined (the connection then proceeds without compression).
 */
export function negotiateDeflateServer(
  offers: readonly ExtensionOffer[],
  options: PerMessageDeflateServerOptions = {},
): DeflateNegotiation | undefined {
  checkWindowBits('serverMaxWindowBits', options.serverMaxWindowBits);
  checkWindowBits('clientMaxWindowBits', options.clientMaxWindowBits);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const p = parseParams(offer.params, 'offer');
    if (typeof p === 'string') continue;
    // The server may not send client_max_window_bits unless offered: with a cap configured, an
    // offer without it is a configuration we don't support.
    if (options.clientMaxWindowBits !== undefined && p.client_max_window_bits === undefined) continue;

    const response: ExtensionParam[] = [];
    const serverNct = p.server_no_context_takeover === true || options.serverNoContextTakeover === true;
    const clientNct = p.client_no_context_takeover === true || options.clientNoContextTakeover === true;
    if (serverNct) response.push({ name: 'server_no_context_takeover', value: true });
    if (clientNct) response.push({ name: 'client_no_context_takeover', value: true });

    let serverBits = 15;
    if (p.server_max_window_bits !== undefined) {
      serverBits = Math.min(p.server_max_window_bits, options.serverMaxWindowBits ?? 15);
      response.push({ name: 'server_max_window_bits', value: String(serverBits) });
    } else if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15) {
      serverBits = options.serverMaxWindowBits;
      response.push({ name: 'server_max_window_bits', value: String(serverBits) });
    }

    let clientBits = 15;
    if (p.client_max_window_bits !== undefined) {
      const offered = p.client_max_window_bits === true ? 15 : p.client_max_window_bits;
      if (options.clientMaxWindowBits !== undefined) {
        clientBits = Math.min(offered, options.clientMaxWindowBits);
        response.push({ name: 'client_max_window_bits', value: String(clientBits) });
      } else if (p.client_max_window_bits !== true) {
        clientBits = offered;
        response.push({ name: 'client_max_window_bits', value: String(clientBits) });
      }
    }
    return {
      params: {
        serverNoContextTakeover: serverNct,
        clientNoContextTakeover: clientNct,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
      response: { name: PERMESSAGE_DEFLATE, params: response },
    };
  }
  return undefined;
}

/** Client side: builds the `permessage-deflate` element to offer. */
export function createDeflateOffer(options: PerMessageDeflateClientOptions = {}): ExtensionOffer {
  checkWindowBits('serverMaxWindowBits', options.serverMaxWindowBits);
  if (typeof options.clientMaxWindowBits === 'number') checkWindowBits('clientMaxWindowBits', options.clientMaxWindowBits);
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover) params.push({ name: 'server_no_context_takeover', value: true });
  if (options.clientNoContextTakeover) params.push({ name: 'client_no_context_takeover', value: true });
  if (options.serverMaxWindowBits !== undefined) {
    params.push({ name: 'server_max_window_bits', value: String(options.serverMaxWindowBits) });
  }
  const cmwb = options.clientMaxWindowBits ?? true;
  if (cmwb === true) params.push({ name: 'client_max_window_bits', value: true });
  else if (typeof cmwb === 'number') params.push({ name: 'client_max_window_bits', value: String(cmwb) });
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Client side (§7.1): validates the server's `permessage-deflate` response against what we
 * offered. Returns the parameters, or a {@link WsHandshakeError}
 * (`WS_HANDSHAKE_BAD_EXTENSION_PARAMS`) — the client must then fail the connection.
 */
export function acceptDeflateResponse(
  response: ExtensionOffer,
  options: PerMessageDeflateClientOptions = {},
): DeflateParams | WsHandshakeError {
  const bad = (why: string): WsHandshakeError =>
    new WsHandshakeError('WS_HANDSHAKE_BAD_EXTENSION_PARAMS', `permessage-deflate response refused: ${why}`);
  const p = parseParams(response.params, 'response');
  if (typeof p === 'string') return bad(p);
  if (options.serverNoContextTakeover && p.server_no_context_takeover === undefined) {
    return bad('server_no_context_takeover was requested but not acknowledged');
  }
  const sBits = p.server_max_window_bits;
  if (options.serverMaxWindowBits !== undefined) {
    if (sBits === undefined) return bad('server_max_window_bits was requested but not acknowledged');
    if (typeof sBits === 'number' && sBits > options.serverMaxWindowBits) {
      return bad(`server_max_window_bits=${sBits} exceeds the offered ${options.serverMaxWindowBits}`);
    }
  }
  const offeredClient = options.clientMaxWindowBits ?? true;
  const cBits = p.client_max_window_bits;
  if (cBits !== undefined) {
    if (offeredClient === false) return bad('client_max_window_bits was not offered');
    if (typeof offeredClient === 'number' && typeof cBits === 'number' && cBits > offeredClient) {
      return bad(`client_max_window_bits=${cBits} exceeds the offered ${offeredClient}`);
    }
  }
  return {
    serverNoContextTakeover: p.server_no_context_takeover === true,
    clientNoContextTakeover: p.client_no_context_takeover === true || options.clientNoContextTakeover === true,
    serverMaxWindowBits: typeof sBits === 'number' ? sBits : 15,
    clientMaxWindowBits:
      typeof cBits === 'number' ? cBits : typeof offeredClient === 'number' ? offeredClient : 15,
  };
}
