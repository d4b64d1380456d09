/** What happens when the offline queue is full. */
export type QueuePolicy = 'drop-oldest' | 'drop-newest' | 'error';

export interface OfflineQueueOptions {
  /** Most messages held while offline. Default 1000. */
  maxMessages?: number;
  /** Most bytes held while offline. Default 1 MiB. */
  maxBytes?: number;
  /**
   * When full: `drop-oldest` (default) makes room by discarding the oldest messages;
   * `drop-newest` refuses the new one; `error` refuses it and `emit` throws QUEUE_FULL.
   */
  policy?: QueuePolicy;
}

/** A bounded FIFO of items with a byte size. `push` returns the items it evicted. */
export class BoundedQueue<T extends { readonly size: number }> {
  private items: T[] = [];
  private head = 0;
  private bytes = 0;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly policy: QueuePolicy;

  constructor(options: OfflineQueueOptions = {}) {
    this.maxMessages = options.maxMessages ?? 1000;
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.policy = options.policy ?? 'drop-oldest';
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get byteLength(): number {
    return this.bytes;
  }

  /** Adds an item; returns `false` when refused, or the evicted items (possibly none). */
  push(item: T): false | T[] {
    if (item.size > this.maxBytes || this.maxMessages === 0) return false;
    const evicted: T[] = [];
    while (this.length >= this.maxMessages || this.bytes + item.size > this.maxBytes) {
      if (this.policy !== 'drop-oldest') return false;
      evicted.push(this.shift()!);
    }
    this.items.push(item);
    this.bytes += item.size;
    return evicted;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as T;
    this.bytes -= item.size;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes matching items. */
  remove(pred: (item: T) => boolean): void {
    const kept = this.items.slice(this.head).filter((x) => !pred(x));
    this.items = kept;
    this.head = 0;
    this.bytes = kept.reduce((n, x) => n + x.size, 0);
  }

  clear(): T[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return all;
  }
}
