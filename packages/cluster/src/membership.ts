import { now, within } from './util';

export type DropReason = 'bye' | 'silent' | 'gone';

/**
 * The other nodes this one knows alive. A node is known from any message of it (hello,
 * heartbeat, query, answer, broadcast) and dropped when it says goodbye, when it is unheard of
 * for `nodeTimeout` (then remembered as *silent*: its subscription may still be there, hung, and
 * it is not waited for), or when the broker no longer has it subscribed (*gone*: a crash).
 */
export class Membership {
  /** Nodes dropped for silence. */
  timedOut = 0;
  /** Nodes dropped because the broker no longer had them subscribed. */
  gone = 0;
  /** Other nodes known alive, with when they were last heard. */
  private readonly peers = new Map<string, number>();
  /** Nodes dropped for silence whose subscription may still be there (hung): not waited for. */
  private readonly silent = new Map<string, number>();
  private readonly waiters = new Set<() => boolean>();
  private probing = false;

  /**
   * @param onDrop a node is no longer known alive (queries stop waiting for it)
   * @param count subscriber counts of the nodes' response channels, from the broker
   * @param timeout how long such a count may take
   */
  constructor(
    private readonly onDrop: (node: string) => void,
    private readonly count: (nodes: readonly string[]) => Promise<number[]>,
    private readonly timeout: number,
  ) {}

  get size(): number {
    return this.peers.size;
  }

  has(node: string): boolean {
    return this.peers.has(node);
  }

  ids(): string[] {
    return [...this.peers.keys()];
  }

  silentIds(): string[] {
    return [...this.silent.keys()];
  }

  get anySilent(): boolean {
    return this.silent.size > 0;
  }

  /** A message of `node` arrived. */
  seen(node: string): void {
    const known = this.peers.has(node);
    this.peers.set(node, now());
    if (!known) {
      this.silent.delete(node);
      this.poke();
    }
  }

  drop(node: string, why: DropReason): void {
    if (!this.peers.delete(node)) return;
    if (why === 'silent') {
      this.timedOut++;
      this.silent.set(node, now());
    } else if (why === 'gone') this.gone++;
    this.onDrop(node);
  }

  /** The broker no longer has `node` subscribed: forgotten, and dropped if it was known. */
  vanished(node: string): void {
    this.silent.delete(node);
    this.drop(node, 'gone');
  }

  /** `node` said goodbye. */
  bye(node: string): void {
    this.silent.delete(node);
    this.drop(node, 'bye');
  }

  /** Forgets a silent node (it has no subscription any more). */
  unsilence(node: string): void {
    this.silent.delete(node);
  }

  /** Drops the nodes unheard of for `timeout`; forgets silent ones after `forget`. */
  sweep(t: number, timeout: number, forget: number): void {
    for (const [node, at] of this.peers) if (t - at > timeout) this.drop(node, 'silent');
    for (const [node, since] of this.silent) if (t - since > forget) this.silent.delete(node);
  }

  /** Asks the broker which known (and silent) nodes are still subscribed; drops those that are not. */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const nodes = [...this.peers.keys(), ...this.silent.keys()];
      const counts = await within(this.count(nodes), this.timeout, 'membership probe');
      nodes.forEach((n, i) => {
        if (counts[i] === 0) this.vanished(n);
      });
    } catch {
      /* the broker is away: the next heartbeat tries again */
    } finally {
      this.probing = false;
    }
  }

  /** Runs `check` now and whenever a node becomes known (or on `poke`) until it returns true. */
  watch(check: () => boolean): void {
    if (check()) return;
    this.waiters.add(check);
  }

  /** Re-runs the watchers (something they wait for may have changed). */
  poke(): void {
    for (const w of [...this.waiters]) if (w()) this.waiters.delete(w);
  }

  clear(): void {
    this.peers.clear();
    this.silent.clear();
  }
}
