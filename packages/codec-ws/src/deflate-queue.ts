// One direction of a PerMessageDeflate (permessage-deflate.ts): its FIFO of operations, one in
// flight at a time, each waiting for a slot of the process-wide ZlibPool.
import type { DeflateCallback } from './permessage-deflate';
import type { PoolJob, ZlibPool } from './zlib-pool';

/** One queued compress or decompress call. */
export interface Op {
  data: Uint8Array;
  fin: boolean;
  maxOutput: number;
  callback: DeflateCallback;
}

const IDLE = 0;
const WAITING = 1;
const RUNNING = 2;

/**
 * One direction (compress or decompress) of an instance: a FIFO of operations, one in flight at
 * a time, each waiting for a pool slot. It is its own pool ticket (no allocation per operation).
 */
export class Direction implements PoolJob {
  cancelled = false;
  private readonly ops: (Op | undefined)[] = [];
  private head = 0;
  private state = IDLE;

  constructor(
    private readonly pool: ZlibPool,
    private readonly run: (op: Op) => void,
  ) {}

  get size(): number {
    return this.ops.length - this.head + (this.state === RUNNING ? 1 : 0);
  }

  add(op: Op): void {
    this.ops.push(op);
    if (this.state === IDLE) this.request();
  }

  runJob(): void {
    const op = this.ops[this.head]!;
    this.ops[this.head++] = undefined;
    if (this.head === this.ops.length) {
      this.ops.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.ops.length) {
      this.ops.splice(0, this.head);
      this.head = 0;
    }
    this.state = RUNNING;
    this.run(op);
  }

  /** The running operation completed: frees the slot and asks for the next. */
  done(): void {
    if (this.state !== RUNNING) return;
    this.state = IDLE;
    this.pool.finished();
    if (!this.cancelled) this.request();
  }

  /** Stops waiting (the instance closed) and returns the operations not started. */
  cancel(): Op[] {
    this.cancelled = true;
    const rest = this.ops.slice(this.head) as Op[];
    this.ops.length = 0;
    this.head = 0;
    return rest;
  }

  private request(): void {
    if (this.head >= this.ops.length) return;
    this.state = WAITING;
    this.pool.schedule(this);
  }
}
