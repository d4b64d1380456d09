import type { FrameType } from '@stelar/codec-tcp';
import type { Dialer, Link } from '@stelar/core/client';
import { DialError, type BrowserClientOptions } from './options';
import { decode, encoder, frame, T } from './wire';

/**
 * A core `Dialer` over the browser's `WebSocket`, to run core's `ClientEngine` in a page (the
 * package's `StelarClient` drives its socket itself). One binary message per Stelar frame,
 * without its 4-byte totalLen (docs/protocol.md §1).
 *
 * - `ping()` sends a Stelar PING frame (pages cannot send WebSocket pings).
 * - `pause()`/`resume()` do nothing: a page cannot stop the browser reading the socket.
 * - `close(code)` uses `code` when the browser allows it (1000, 3000–4999), else 1000, with the
 *   reason cut to the 123 bytes a close frame holds; the engine still sees the code it asked for.
 *
 * Not in the `<script>` bundle (its global has no use for it without core's engine): import it
 * from the package.
 */
export function dialWebSocket(url: string, options: BrowserClientOptions = {}): Dialer {
  const hwm = options.highWaterMark ?? 1 << 20;
  const max = options.maxFrameSize ?? 1 << 24;
  return (handler, signal) =>
    new Promise<Link>((resolve, reject) => {
      let ws: WebSocket;
      /** 0 dialing, 1 open, 2 closing at our request (`mine` is what we asked for), 3 reported. */
      let phase = 0;
      let mine: [number, string] | undefined;
      const dialFailed = (why: unknown): void => reject(new DialError('WS_DIAL_FAILED', `cannot open ${url}: ${why}`));
      const report = (code: number, reason: string): void => {
        if (phase < 3) handler.onClose(code, reason);
        phase = 3;
      };
      const abort = (): void => {
        ws.close();
        reject(signal.reason);
      };
      try {
        ws = new (options.WebSocket ?? WebSocket)(url, options.protocols);
      } catch (e) {
        return dialFailed(e);
      }
      ws.binaryType = 'arraybuffer';
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort);
      // SendStatus: OK 0, BUFFERED 1, DROPPED 2, CLOSED 3.
      const link: Link = {
        transport: url.slice(0, 3) == 'wss' ? 'wss' : 'ws',
        remoteAddress: new URL(url).host,
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send: (f, volatile) =>
          phase != 1 || ws.readyState != 1 ? 3 : volatile && ws.bufferedAmount > hwm ? 2 : (ws.send(f.subarray(4) as Uint8Array<ArrayBuffer>), ws.bufferedAmount > hwm ? 1 : 0),
        ping: () => void link.send(frame(T.PING, ''), false),
        close(code, reason) {
          if (phase != 1) return;
          phase = 2;
          mine = [code, reason];
          reason = reason.slice(0, 123);
          while (encoder.encode(reason).length > 123) reason = reason.slice(0, -1);
          ws.close(code == 1000 || (code >= 3000 && code < 5000) ? code : 1000, reason);
        },
        terminate() {
          ws.close();
          report(1006, '');
        },
        pause() {},
        resume() {},
      };
      ws.onopen = () => {
        phase = 1;
        signal.removeEventListener('abort', abort);
        resolve(link);
      };
      ws.onmessage = ({ data }: MessageEvent) => {
        if (phase != 1) return;
        if (!(data instanceof ArrayBuffer)) return handler.onProtocolError({ code: 'UNSUPPORTED_DATA', message: 'text message', closeCode: 1003 });
        try {
          const [type, event, payload] = decode(new Uint8Array(data), max);
          handler.onFrame({ type: type as FrameType, event, payload }, data.byteLength + 4);
        } catch (e) {
          const { code, message } = e as { code: string; message: string };
          handler.onProtocolError({ code, message, closeCode: code == 'FRAME_TOO_LARGE' ? 1009 : 1002 });
        }
      };
      ws.onclose = ({ code, reason }: CloseEvent) => {
        signal.removeEventListener('abort', abort);
        if (!phase) dialFailed(`closed before opening (${code}): refused or unreachable`);
        else report(...(mine ?? [code, reason]));
      };
    });
}
