// A WebSocket the Node tests drive by hand (test/client.test.ts, test/resume.test.ts).

/** A WebSocket the test drives: `open()`, `receive(frame)`, `end(code)`. */
export class ScriptedSocket {
  static last: ScriptedSocket | undefined;
  readyState = 0;
  binaryType = '';
  bufferedAmount = 0;
  sent: number[][] = [];
  closedWith: unknown[] | undefined;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    ScriptedSocket.last = this;
  }
  send(b: Uint8Array): void {
    this.sent.push([...b]);
  }
  close(...args: unknown[]): void {
    this.closedWith = args;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  /** Delivers a frame as a WebSocket message (without its totalLen). */
  receive(frame: Uint8Array): void {
    this.onmessage?.({ data: frame.slice(4).buffer });
  }
  end(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
