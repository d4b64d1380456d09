import * as net from 'node:net';
import { decodeFrame, encodeClientConnect, FrameDecoder, type Frame } from '@stelar/codec-tcp';
import { until } from '@stelar/test-utils';

/** A raw TCP peer speaking Stelar frames by hand, for bad-input tests. */
export class RawTcpPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder((f) => this.frames.push({ ...f, payload: f.payload.slice() }));
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c) => {
      try {
        this.decoder.push(c);
      } catch {
        /* the test looks at what arrived */
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }
  static open(port: number): Promise<RawTcpPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawTcpPeer(s)));
      s.once('error', reject);
    });
  }
  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }
  async hello(auth?: unknown): Promise<Frame> {
    this.write(encodeClientConnect(auth));
    await until(() => this.frames.length > 0);
    return this.frames[0]!;
  }
  text(f: Frame): string {
    return new TextDecoder().decode(f.payload);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

export { decodeFrame };
