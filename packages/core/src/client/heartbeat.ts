import { encodePing } from '@stelar/codec-tcp';
import { now } from '../clock';
import type { Link } from '../link';
import type { ClientHeartbeatOptions } from './options';

/**
 * Dead-server detection for the client session: a PING after `interval` without hearing from
 * the server, the link terminated after `interval + timeout`. Any frame or pong is a sign of life.
 */
export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastInbound = 0;
  private pingOutstanding = false;

  constructor(private readonly opts: ClientHeartbeatOptions | false | undefined) {}

  /** The server was heard from. */
  alive(): void {
    this.lastInbound = now();
    this.pingOutstanding = false;
  }

  /** Starts watching `link` (the server's own heartbeat interval is the default). */
  start(link: () => Link | null, serverInterval: number): void {
    this.stop();
    const hb = this.opts;
    if (hb === false) return;
    const interval = hb?.interval ?? (serverInterval > 0 ? serverInterval : 25_000);
    const timeout = hb?.timeout ?? 10_000;
    this.pingOutstanding = false;
    const every = Math.max(10, Math.floor(Math.min(interval, timeout) / 4));
    this.timer = setInterval(() => {
      const l = link();
      if (!l) return;
      const idle = now() - this.lastInbound;
      if (idle >= interval + timeout) {
        l.terminate();
      } else if (idle >= interval && !this.pingOutstanding) {
        this.pingOutstanding = true;
        l.send(encodePing(), false);
      }
    }, every);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
