/**
 * The shape of a conformance case and of its result.
 */
import type { PerMessageDeflateClientOptions } from '@stelar/codec-ws';
import type { PmdParams } from './deflate';
import type { PeerRole, Tester } from './tester';

export type Verdict = 'PASS' | 'NON-STRICT' | 'FAIL';

/**
 * What the peer must do, in Autobahn's strict sense:
 * - `echo`: every expected event (echoed messages, pongs), in order and nothing else, then a
 *   clean closing handshake started by the tester with 1000 (echoed with 1000).
 * - `fail`: the expected events (what comes before the violation), then the peer fails the
 *   connection with a close frame carrying one of `codes`. A close frame with a code in
 *   `nonStrict`, a bare TCP close, or a failure only after the `failFastBefore` mark is
 *   NON-STRICT.
 * - `close`: the case sends a close frame itself; the peer echoes it with one of `codes` (null: an
 *   empty close body) after the expected events.
 * - `refuse`: client role, opening handshake: the Stelar client must refuse the server's answer.
 */
export type Expectation =
  | { kind: 'echo'; alsoPass?: { codes: number[] } }
  | { kind: 'fail'; codes: number[]; nonStrict?: number[]; failFastBefore?: string }
  | { kind: 'close'; codes: (number | null)[] }
  | { kind: 'refuse' };

export interface DeflateSetup {
  /** What the tester asks for: server role, its offer; client role, its response. */
  params: Partial<PmdParams>;
  /** Server role: the raw offer (default: `params` formatted). */
  offer?: string;
  /** Server role: null, the offer must be declined; an object, accepted with these fields exactly; undefined (default), accepted with any answer RFC 7692 §7.1 allows. */
  expectResponse?: Partial<PmdParams> | null;
  /** Client role: the Stelar client's offer (false: none). Default: the codec's default offer. */
  clientOffer?: PerMessageDeflateClientOptions | boolean;
  /** Client role: the raw response header (default: `params` formatted). */
  response?: string;
}

export interface Case {
  /** Autobahn-style id; the first number is the category. */
  id: string;
  title: string;
  /** The RFC section(s) the case checks. */
  rfc: string;
  expect: Expectation;
  /** Roles the case applies to (default both). */
  roles?: readonly PeerRole[];
  /** Negotiate permessage-deflate. */
  deflate?: DeflateSetup;
  /** The peer echoes in frames of at most this many bytes. */
  fragment?: number;
  /** How long (ms) to wait for the expected events or the failure. Default 4000. */
  timeout?: number;
  run(t: Tester): Promise<void> | void;
}

export interface CaseResult {
  id: string;
  category: number;
  role: PeerRole;
  title: string;
  rfc: string;
  expected: string;
  verdict: Verdict;
  detail: string;
  durationMs: number;
  metrics?: Record<string, number>;
  notes?: string[];
  /** Set when the verdict is covered by a listed exception. */
  exception?: string;
}

export const CATEGORY_NAMES: Record<number, string> = {
  1: 'framing',
  2: 'pings/pongs',
  3: 'reserved bits',
  4: 'opcodes',
  5: 'fragmentation',
  6: 'UTF-8 handling',
  7: 'close handling',
  9: 'limits/performance',
  10: 'auto-fragmentation',
  12: 'permessage-deflate',
  13: 'deflate parameters',
};

export function categoryOf(id: string): number {
  return Number(id.split('.')[0]);
}

export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case 'echo':
      return e.alsoPass ? `echo (or fail with ${e.alsoPass.codes.join('/')})` : 'echo, then clean close 1000';
    case 'fail':
      return `fail the connection with ${e.codes.join('/')}${e.failFastBefore ? ' (fail-fast)' : ''}`;
    case 'close':
      return `close echoed with ${e.codes.map((c) => (c === null ? 'an empty body' : String(c))).join(' or ')}`;
    case 'refuse':
      return 'refuse the opening handshake';
  }
}
