/**
 * A byte queue over a list of chunks: input is appended without copying and consumed from the
 * front; bytes are copied only when a read spans chunks (each byte at most once), so parsing is
 * linear in the input whatever the chunk sizes.
 */
export class ChunkQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes held. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Puts `chunk` in front of what is held (input that came first). */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.head > 0) this.chunks[--this.head] = chunk;
    else this.chunks.unshift(chunk);
    this.length += chunk.length;
  }

  /** The byte at `index` (< length) without consuming. */
  byteAt(index: number): number {
    for (let c = this.head; ; c++) {
      const chunk = this.chunks[c]!;
      if (index < chunk.length) return chunk[index]!;
      index -= chunk.length;
    }
  }

  /** Removes and returns the first `n` bytes (n <= length). Zero-copy when inside one chunk. */
  consume(n: number): Buffer {
    const first = this.chunks[this.head]!;
    if (first.length >= n) {
      this.length -= n;
      if (first.length === n) {
        this.shift();
        return first;
      }
      this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const chunk = this.chunks[this.head]!;
      const take = Math.min(chunk.length, n - off);
      chunk.copy(out, off, 0, take);
      off += take;
      if (take === chunk.length) this.shift();
      else this.chunks[this.head] = chunk.subarray(take);
    }
    this.length -= n;
    return out;
  }

  /** Drops `n` bytes from the front. */
  skip(n: number): void {
    while (n > 0) {
      const chunk = this.chunks[this.head]!;
      if (chunk.length <= n) {
        n -= chunk.length;
        this.length -= chunk.length;
        this.shift();
      } else {
        this.chunks[this.head] = chunk.subarray(n);
        this.length -= n;
        n = 0;
      }
    }
  }

  /**
   * Copies out the first and last chunks when they are less than half of their buffer, so that
   * bytes left waiting (the rest of a read after the frames before it were consumed, or a view
   * into a bigger buffer) do not keep the whole buffer alive. Chunks between them were pushed
   * whole and are untouched. Call when input is left over after parsing.
   */
  compact(): void {
    const last = this.chunks.length - 1;
    if (last < this.head) return;
    this.chunks[this.head] = detach(this.chunks[this.head]!);
    if (last > this.head) this.chunks[last] = detach(this.chunks[last]!);
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.length = 0;
  }

  private shift(): void {
    this.chunks[this.head++] = undefined as unknown as Buffer;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** `chunk`, or a copy of it in a buffer of its own when it is less than half of its buffer. */
function detach(chunk: Buffer): Buffer {
  if (chunk.length * 2 >= chunk.buffer.byteLength) return chunk;
  const out = Buffer.allocUnsafeSlow(chunk.length);
  chunk.copy(out);
  return out;
}

/**
 * The queue of a receiver that holds no input (an idle connection whose reads all ended on frame
 * boundaries): shared and always empty, nothing is ever pushed into it.
 */
export const NO_INPUT = new ChunkQueue();
