/**
 * What a receiver checks in a frame's header (RFC 6455 §5.2, §5.4, §5.5: the first two bytes, the
 * payload length against the limits), and the fast path's test for a whole simple frame at the
 * start of a read.
 */
import { CloseCode, WsError } from './errors';
import { isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode, type Role } from './frame';

/**
 * The violation in a frame's first two bytes `b0`, `b1` for a receiver of `role`, or undefined.
 * `deflate`: permessage-deflate was negotiated (RSV1 allowed on a first data frame); `inMessage`:
 * a fragmented data message is open (only a continuation or a control frame may come).
 */
export function headerViolation(b0: number, b1: number, role: Role, deflate: boolean, inMessage: boolean): WsError | undefined {
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  const rsv1 = (b0 & 0x40) !== 0;
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  const control = (opcode & 0x08) !== 0;
  if (!isKnownOpcode(opcode)) return new WsError('WS_BAD_OPCODE', CloseCode.PROTOCOL_ERROR, `Reserved opcode 0x${opcode.toString(16)}`);
  if ((b0 & 0x30) !== 0) return new WsError('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV2/RSV3 set without a negotiated extension');
  if (rsv1) {
    if (!deflate) return new WsError('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV1 set without permessage-deflate');
    if (control || opcode === Opcode.CONTINUATION) return new WsError('WS_RSV_BITS', CloseCode.PROTOCOL_ERROR, 'RSV1 set on a control or continuation frame');
  }
  if (control) {
    if (!fin) return new WsError('WS_CONTROL_FRAGMENTED', CloseCode.PROTOCOL_ERROR, 'Fragmented control frame');
    if (len7 > MAX_CONTROL_PAYLOAD) return new WsError('WS_CONTROL_TOO_LONG', CloseCode.PROTOCOL_ERROR, 'Control frame payload over 125 bytes');
  } else if (opcode === Opcode.CONTINUATION) {
    if (!inMessage) return new WsError('WS_UNEXPECTED_CONTINUATION', CloseCode.PROTOCOL_ERROR, 'Continuation frame without a message to continue');
  } else if (inMessage) {
    return new WsError('WS_EXPECTED_CONTINUATION', CloseCode.PROTOCOL_ERROR, 'New data frame inside a fragmented message');
  }
  if (masked !== (role === 'server')) {
    if (masked) return new WsError('WS_MASKED_FRAME', CloseCode.PROTOCOL_ERROR, 'Masked frame sent by the server');
    return new WsError('WS_UNMASKED_FRAME', CloseCode.PROTOCOL_ERROR, 'Unmasked frame sent by the client');
  }
  return undefined;
}

/**
 * The violation in the length `n` of a data frame's payload, or undefined: over `maxFrameSize`
 * (a compressed frame gets a little more: deflate can grow incompressible data, and a message
 * allowed once inflated must not be refused for its compressed size; inflation itself is capped
 * by `maxMessageSize`), or, uncompressed, taking the message (`before` bytes so far) over
 * `maxMessageSize`.
 */
export function lengthViolation(n: number, compressed: boolean, before: number, maxFrameSize: number, maxMessageSize: number): WsError | undefined {
  const frameLimit = compressed ? maxFrameSize + Math.min(1024 + Math.floor(maxFrameSize / 64), 512 * 1024) : maxFrameSize;
  if (n > frameLimit) return new WsError('WS_FRAME_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Frame payload of ${n} bytes exceeds ${frameLimit}`);
  if (!compressed && before + n > maxMessageSize) return new WsError('WS_MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_BIG, `Message exceeds ${maxMessageSize} bytes`);
  return undefined;
}

/** The payload of the frame `wholeFrameAt` found: one object shared by every receiver. */
export const wholeFrame = { start: 0, length: 0, text: false };

/**
 * Whether `chunk` holds at `off` a whole frame a receiver may deliver straight from the chunk:
 * FIN, no RSV bit, text or binary, masked as `server` requires, complete, and at most `limit`
 * bytes of payload. Then `wholeFrame` says where its payload starts (the 4-byte masking key is
 * just before it), how long it is and whether it is text. Anything else is left to the state
 * machine, with its own checks and error reports.
 */
export function wholeFrameAt(chunk: Buffer, off: number, server: boolean, limit: number): boolean {
  const n = chunk.length;
  const b0 = chunk[off]!;
  const b1 = chunk[off + 1]!;
  const op = b0 & 0x0f;
  if ((b0 & 0xf0) !== 0x80 || (op !== Opcode.BINARY && op !== Opcode.TEXT) || (b1 & 0x80) !== (server ? 0x80 : 0)) return false;
  const len7 = b1 & 0x7f;
  let at = off + 2;
  let len = len7;
  if (len7 === 126) {
    if (n - at < 2) return false;
    len = (chunk[at]! << 8) | chunk[at + 1]!;
    at += 2;
  } else if (len7 === 127) {
    if (n - at < 8 || chunk[at] !== 0 || chunk[at + 1] !== 0 || chunk[at + 2] !== 0 || chunk[at + 3] !== 0) return false;
    len = chunk.readUInt32BE(at + 4);
    at += 8;
  }
  if (server) at += 4;
  if (len > n - at || len > limit) return false;
  wholeFrame.start = at;
  wholeFrame.length = len;
  wholeFrame.text = op === Opcode.TEXT;
  return true;
}
