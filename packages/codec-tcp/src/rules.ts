import { AckStatus, ErrorCode, FrameType, MAX_PING_PAYLOAD } from './constants';
import { FrameError } from './errors';

/**
 * Per-type rules on the event field and payload layout (docs/protocol.md §2–3), shared by the
 * decoders (on what they receive) and `encodeFrame` (so it never emits what a peer refuses).
 * @throws FrameError BAD_EVENT / BAD_PAYLOAD
 */
export function checkBody(type: FrameType, event: string, payload: Uint8Array): void {
  switch (type) {
    case FrameType.JSON:
    case FrameType.BINARY:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'event name required');
      return;
    case FrameType.ACK_REQ:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'event name required');
      if (payload.length < 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_REQ needs a 4-byte request id');
      return;
    case FrameType.ACK_RES:
      if (payload.length < 5) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'ACK_RES needs a request id and a status');
      if (payload[4] !== AckStatus.OK && payload[4] !== AckStatus.ERROR) throw new FrameError(ErrorCode.BAD_PAYLOAD, `unknown ACK status ${payload[4]}`);
      return;
    case FrameType.PING:
    case FrameType.PONG:
      if (event !== '') throw new FrameError(ErrorCode.BAD_EVENT, 'PING/PONG carry no event name');
      if (payload.length > MAX_PING_PAYLOAD) throw new FrameError(ErrorCode.BAD_PAYLOAD, `PING/PONG payload above ${MAX_PING_PAYLOAD} bytes`);
      return;
    case FrameType.CONNECT:
    case FrameType.DISCONNECT:
      if (event !== '') throw new FrameError(ErrorCode.BAD_EVENT, 'CONNECT/DISCONNECT carry no event name');
      return;
    case FrameType.JOIN:
    case FrameType.LEAVE:
      if (event === '') throw new FrameError(ErrorCode.BAD_EVENT, 'room name required');
      if (payload.length !== 0 && payload.length !== 4) throw new FrameError(ErrorCode.BAD_PAYLOAD, 'JOIN/LEAVE payload is empty or a 4-byte request id');
      return;
    case FrameType.ERROR:
      return;
  }
}

/** True for the type bytes of docs/protocol.md §2 (0x01..0x0B). */
export function isFrameType(type: unknown): type is FrameType {
  return typeof type === 'number' && Number.isInteger(type) && type >= FrameType.JSON && type <= FrameType.ERROR;
}
