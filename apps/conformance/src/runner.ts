/**
 * Runs the catalogue against the Stelar peers in both roles and judges each case.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { agreed, formatPmd, NO_PARAMS, parsePmdOffers, parsePmdResponse, responseProblem, type PmdParams } from './deflate';
import { EXCEPTIONS } from './exceptions';
import { categoryOf, CATEGORY_NAMES, describeExpectation, type Case, type CaseResult, type Verdict } from './model';
import { dialEchoClient, startEchoServer, type EchoServer } from './peers';
import { sleep, Tester, testerPmd, type ExpectedEvent, type LogEvent, type PeerRole } from './tester';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptOf = (key: string): string => createHash('sha1').update(key + GUID).digest('base64');

/** Reads an HTTP head (up to CRLFCRLF) from a socket; returns it and the bytes after it. */
function readHead(socket: net.Socket, timeout: number): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('no HTTP head in time')), timeout);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) done(undefined, { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
      else if (buf.length > 65536) done(new Error('HTTP head too long'));
    };
    const onClose = (): void => done(new Error('connection closed during the opening handshake'));
    const done = (err: Error | undefined, v?: { head: string; rest: Buffer }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(v!);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function parseHead(head: string): { start: string; headers: Map<string, string> } {
  const lines = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)!}, ${value}` : value);
  }
  return { start: lines[0] ?? '', headers };
}

const hasToken = (v: string | undefined, token: string): boolean =>
  (v ?? '').split(',').some((s) => s.trim().toLowerCase() === token);

/** What each side compresses with, from a response's parameters. */
function effective(p: PmdParams): PmdParams {
  return { ...p, clientMaxWindowBits: p.clientMaxWindowBits === true ? undefined : p.clientMaxWindowBits };
}

/** The fields of `want` the server's answer must match exactly (a Stelar policy check). */
function sameParams(want: Partial<PmdParams>, b: PmdParams): string | undefined {
  for (const k of Object.keys(want) as (keyof PmdParams)[]) {
    if (want[k] !== b[k]) return `${k}: expected ${String(want[k])}, server answered ${String(b[k])}`;
  }
  return undefined;
}

type Setup = { ok: true; tester: Tester; stelarClosed?: Promise<{ code: number; reason: string }> } | { ok: false; result: Verdict; detail: string };

/** Server role: the tester dials the Stelar echo server. */
async function setupServerRole(c: Case, server: EchoServer): Promise<Setup> {
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  const offer = c.deflate ? (c.deflate.offer ?? formatPmd(c.deflate.params)) : undefined;
  const path = c.fragment ? `/frag/${c.fragment}` : '/';
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${offer ? `Sec-WebSocket-Extensions: ${offer}\r\n` : ''}\r\n`,
  );
  const { head, rest } = await readHead(socket, 3000);
  const { start, headers } = parseHead(head);
  const fail = (detail: string): Setup => {
    socket.destroy();
    return { ok: false, result: 'FAIL', detail: `opening handshake: ${detail}` };
  };
  if (!/^HTTP\/1\.1 101\b/.test(start)) return fail(`status line ${JSON.stringify(start)}`);
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return fail('Upgrade is not websocket');
  if (!hasToken(headers.get('connection'), 'upgrade')) return fail('Connection lacks upgrade');
  if (headers.get('sec-websocket-accept') !== acceptOf(key)) return fail('wrong Sec-WebSocket-Accept');
  const ext = parsePmdResponse(headers.get('sec-websocket-extensions'));
  if (typeof ext === 'string') return fail(`bad Sec-WebSocket-Extensions: ${ext}`);
  if (!c.deflate && ext) return fail('an extension was accepted without being offered');
  let params: PmdParams | undefined;
  if (c.deflate && offer) {
    const want = c.deflate.expectResponse;
    if (want === null) {
      if (ext) return fail(`expected the offer to be declined, got ${headers.get('sec-websocket-extensions')!}`);
    } else {
      if (!ext) return fail('permessage-deflate was declined');
      // The answer must be valid for one of the offers (RFC 7692 §7.1); the first it fits is the one accepted.
      const offers = parsePmdOffers(offer);
      const problems = offers.map((o) => responseProblem(o, ext));
      const i = problems.findIndex((p) => p === undefined);
      if (i < 0) return fail(`the answer fits no offer: ${problems.join('; ') || 'no valid offer'}`);
      if (want) {
        const diff = sameParams(want, ext);
        if (diff) return fail(diff);
      }
      params = agreed(offers[i]!, ext);
    }
  }
  return { ok: true, tester: new Tester('server', socket, params ? testerPmd('server', params) : undefined, rest) };
}

/** Client role: the Stelar echo client dials the tester's server. */
export class TesterServer {
  private server!: net.Server;
  private queue: net.Socket[] = [];
  private wanted: ((s: net.Socket) => void) | undefined;
  port = 0;
  async start(): Promise<void> {
    this.server = net.createServer((s) => {
      if (this.wanted) {
        const w = this.wanted;
        this.wanted = undefined;
        w(s);
      } else this.queue.push(s);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  next(timeout: number): Promise<net.Socket> {
    const s = this.queue.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wanted = undefined;
        reject(new Error('the client did not connect'));
      }, timeout);
      this.wanted = (sock) => {
        clearTimeout(timer);
        resolve(sock);
      };
    });
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function setupClientRole(c: Case, ts: TesterServer): Promise<Setup> {
  const clientOffer = c.deflate ? (c.deflate.clientOffer ?? true) : false;
  const dial = dialEchoClient(ts.port, {
    path: `/${c.id}`,
    deflate: clientOffer,
    ...(c.fragment ? { fragment: c.fragment } : {}),
  });
  const socket = await ts.next(3000);
  socket.on('error', () => undefined);
  const { head, rest } = await readHead(socket, 3000);
  const { start, headers } = parseHead(head);
  const problems: string[] = [];
  if (!/^GET \S+ HTTP\/1\.1$/.test(start)) problems.push(`request line ${JSON.stringify(start)}`);
  if (!headers.get('host')) problems.push('no Host');
  if (!hasToken(headers.get('upgrade'), 'websocket')) problems.push('Upgrade lacks websocket');
  if (!hasToken(headers.get('connection'), 'upgrade')) problems.push('Connection lacks upgrade');
  if (headers.get('sec-websocket-version') !== '13') problems.push('Sec-WebSocket-Version is not 13');
  const key = headers.get('sec-websocket-key') ?? '';
  if (Buffer.from(key, 'base64').length !== 16 || Buffer.from(key, 'base64').toString('base64') !== key) problems.push('bad Sec-WebSocket-Key');
  if (clientOffer && !headers.get('sec-websocket-extensions')?.includes('permessage-deflate')) problems.push('permessage-deflate not offered');
  if (!clientOffer && headers.get('sec-websocket-extensions')) problems.push('an extension was offered unasked');
  if (problems.length > 0) {
    socket.destroy();
    await dial;
    return { ok: false, result: 'FAIL', detail: `opening handshake request: ${problems.join('; ')}` };
  }
  const response = c.deflate ? (c.deflate.response ?? formatPmd(effective({ ...NO_PARAMS, ...c.deflate.params }))) : undefined;
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n` +
      `${response ? `Sec-WebSocket-Extensions: ${response}\r\n` : ''}\r\n`,
  );
  const dialed = await dial;
  if (c.expect.kind === 'refuse') {
    const gone = await new Promise<boolean>((resolve) => {
      if (socket.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.resume();
    });
    socket.destroy();
    if (dialed.ok) {
      dialed.conn.terminate();
      return { ok: false, result: 'FAIL', detail: `the client accepted the response ${JSON.stringify(response)}` };
    }
    return gone
      ? { ok: false, result: 'PASS', detail: `refused: ${dialed.error}` }
      : { ok: false, result: 'FAIL', detail: `refused (${dialed.error}) but left the TCP connection open` };
  }
  if (!dialed.ok) {
    socket.destroy();
    return { ok: false, result: 'FAIL', detail: `the client refused the opening handshake: ${dialed.error}` };
  }
  const parsed = response ? parsePmdResponse(response) : undefined;
  const offered = parsePmdOffers(headers.get('sec-websocket-extensions') ?? '')[0] ?? NO_PARAMS;
  const pmd = parsed && typeof parsed !== 'string' ? testerPmd('client', agreed(offered, parsed)) : undefined;
  return { ok: true, tester: new Tester('client', socket, pmd, rest), stelarClosed: dialed.closed };
}

function show(ev: ExpectedEvent | LogEvent | undefined): string {
  if (!ev) return 'nothing';
  const d = 'data' in ev ? ev.data : Buffer.alloc(0);
  const what = ev.kind === 'message' ? `${ev.binary ? 'binary' : 'text'} message` : ev.kind;
  const preview = d.length <= 16 ? d.toString('hex') : `${d.subarray(0, 8).toString('hex')}…`;
  return `${what} of ${d.length} bytes (${preview})`;
}

/** Compares observed data events with the expected ones. */
function compare(expected: ExpectedEvent[], observed: LogEvent[]): { mismatch: string | undefined; missing: number } {
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i]!;
    const e = expected[i];
    if (!e) return { mismatch: `unexpected ${show(o)} (after ${expected.length} expected events)`, missing: 0 };
    if (!sameEvent(e, o)) return { mismatch: `event ${i + 1}: expected ${show(e)}, got ${show(o)}`, missing: 0 };
  }
  return { mismatch: undefined, missing: expected.length - observed.length };
}

const sameEvent = (e: ExpectedEvent, o: LogEvent): boolean =>
  e.kind === o.kind && (e.kind !== 'message' || (o.kind === 'message' && e.binary === o.binary)) && 'data' in o && e.data.equals(o.data);

/**
 * Whether `observed` is `expected` with some pongs sent later than strictly expected (after data
 * that came in after their ping): RFC 6455 §5.5.2 asks for a pong "as soon as is practical".
 */
function pongsOnlyLate(expected: ExpectedEvent[], observed: LogEvent[]): boolean {
  if (expected.length !== observed.length) return false;
  const strip = <T extends { kind: string }>(l: T[], pong: boolean): T[] => l.filter((x) => (x.kind === 'pong') === pong);
  const eData = strip(expected, false);
  const oData = strip(observed, false);
  const ePong = strip(expected, true);
  const oPong = strip(observed, true);
  if (eData.length !== oData.length || ePong.length !== oPong.length) return false;
  if (!eData.every((e, i) => sameEvent(e, oData[i]!)) || !ePong.every((e, i) => sameEvent(e, oPong[i]!))) return false;
  const ePos = expected.flatMap((e, i) => (e.kind === 'pong' ? [i] : []));
  const oPos = observed.flatMap((e, i) => (e.kind === 'pong' ? [i] : []));
  return oPos.every((p, i) => p >= ePos[i]!);
}

function judge(c: Case, t: Tester, hung: boolean): { verdict: Verdict; detail: string } {
  const fail = (detail: string): { verdict: Verdict; detail: string } => ({ verdict: 'FAIL', detail });
  const nonStrict = (detail: string): { verdict: Verdict; detail: string } => ({ verdict: 'NON-STRICT', detail });
  if (t.violations.length > 0) return fail(`peer sent: ${t.violations.slice(0, 3).join('; ')}`);
  const data = t.dataEvents;
  const cmp = compare(t.expected, data);
  const pc = t.peerClosed;
  const e = c.expect;
  const codeText = (code: number | undefined): string => (code === undefined ? 'an empty close frame' : `close ${code}`);
  for (const check of t.checks) {
    const problem = check();
    if (problem) return fail(problem);
  }
  let late: string | undefined;
  if (cmp.mismatch && e.kind !== 'refuse' && pongsOnlyLate(t.expected, data)) {
    late = `pong(s) sent after data that arrived later than their ping (${cmp.mismatch})`;
    cmp.mismatch = undefined;
  }
  const strictOr = (r: { verdict: Verdict; detail: string }): { verdict: Verdict; detail: string } =>
    late && r.verdict === 'PASS' ? nonStrict(r.detail ? `${r.detail}; ${late}` : late) : r;
  if (e.kind === 'echo') return strictOr(judgeEcho());
  if (e.kind === 'close') return strictOr(judgeClose());
  if (e.kind === 'fail') return strictOr(judgeFail());
  return fail('unexpected expectation');

  function judgeEcho(): { verdict: Verdict; detail: string } {
    if (e.kind !== 'echo') return fail('unexpected expectation');
    if (cmp.mismatch) return fail(cmp.mismatch);
    if (cmp.missing > 0) {
      if (pc && e.alsoPass?.codes.includes(pc.code ?? -1)) return { verdict: 'PASS', detail: `failed with ${pc.code} (allowed)` };
      return fail(`${cmp.missing} expected event(s) missing (next: ${show(t.expected[data.length])})${pc ? `; peer sent ${codeText(pc.code)}` : ''}`);
    }
    if (!pc) return fail(t.tcpClosed ? 'TCP closed without a close frame' : 'no closing handshake');
    const ours = t.closeSent;
    if (!ours || ours.at > pc.at) return fail(`the peer closed first with ${codeText(pc.code)}`);
    if (pc.code !== (ours.code ?? pc.code) || (ours.code === undefined && pc.code !== undefined && pc.code !== 1000)) {
      return fail(`closing handshake: sent ${codeText(ours.code)}, got ${codeText(pc.code)}`);
    }
    if (hung) return fail('the peer did not close the TCP connection after the closing handshake');
    return { verdict: 'PASS', detail: '' };
  }
  function judgeClose(): { verdict: Verdict; detail: string } {
    if (e.kind !== 'close') return fail('unexpected expectation');
    if (cmp.mismatch) return fail(cmp.mismatch);
    if (cmp.missing > 0) return fail(`${cmp.missing} expected event(s) missing (next: ${show(t.expected[data.length])})`);
    if (!pc) return fail(t.tcpClosed ? 'TCP closed without a close frame' : 'no close frame');
    const ok = e.codes.some((code) => (code === null ? pc.code === undefined : pc.code === code));
    if (!ok) return fail(`expected ${e.codes.map((x) => (x === null ? 'an empty close' : x)).join('/')}, got ${codeText(pc.code)}`);
    if (hung) return fail('the peer did not close the TCP connection');
    return { verdict: 'PASS', detail: '' };
  }
  function judgeFail(): { verdict: Verdict; detail: string } {
    if (e.kind !== 'fail') return fail('unexpected expectation');
    if (cmp.mismatch) return fail(cmp.mismatch);
    const ff = e.failFastBefore !== undefined ? t.marks.get(e.failFastBefore) : undefined;
    let result: { verdict: Verdict; detail: string };
    if (!pc) {
      if (!t.tcpClosed || hung) return fail('the peer did not fail the connection');
      result = nonStrict('failed by closing TCP without a close frame');
      if (ff !== undefined && t.tcpClosedAt! > ff) result.detail += ', after the rest of the message';
    } else if (e.codes.includes(pc.code ?? -1)) {
      result = { verdict: 'PASS', detail: `closed ${pc.code}` };
      if (ff !== undefined && pc.at > ff) result = nonStrict(`closed ${pc.code} only after the rest of the message was sent (not fail-fast)`);
    } else if (e.nonStrict?.includes(pc.code ?? -1)) result = nonStrict(`closed ${pc.code}, expected ${e.codes.join('/')}`);
    else return fail(`expected ${e.codes.join('/')}, got ${codeText(pc.code)}`);
    if (cmp.missing > 0 && result.verdict === 'PASS') {
      result = nonStrict(`${result.detail}; but ${cmp.missing} valid message(s) before the violation were not echoed`);
    }
    if (hung) return fail(`${result.detail}; then the TCP connection was left open`);
    return result;
  }
}

async function finish(c: Case, t: Tester, cap: number | undefined): Promise<boolean> {
  const timeout = Math.min(c.timeout ?? 4000, cap ?? Infinity);
  const e = c.expect;
  if (e.kind === 'echo') {
    await t.waitData(t.expected.length, timeout);
    await t.flushed();
    if (!t.peerClosed && !t.tcpClosed && !t.closeSent) t.close(1000);
  }
  await t.waitFor(() => t.peerClosed !== undefined || t.tcpClosed || t.violations.length > 0, timeout);
  const closedBy = await t.waitFor(() => t.tcpClosed, Math.min(3000, cap ?? Infinity));
  await t.flushed();
  if (!closedBy) t.destroy();
  return !closedBy;
}

export interface RunOptions {
  roles?: readonly PeerRole[];
  /**
   * Server role against another server (calibration of the tester against other
   * implementations, or self-tests against broken ones). Default: the Stelar echo server.
   */
  target?: EchoServer;
  /** Cap (ms) on every wait of a case (default: the case's own, 4 s unless it says otherwise). */
  maxWait?: number;
  /** Only ids starting with one of these prefixes. */
  only?: readonly string[];
  onResult?: (r: CaseResult) => void;
}

export interface Report {
  generatedAt: string;
  node: string;
  durationMs: number;
  summary: Record<PeerRole, Record<string, { pass: number; nonStrict: number; fail: number }>>;
  totals: Record<PeerRole, { pass: number; nonStrict: number; fail: number }>;
  results: CaseResult[];
}

function matches(id: string, only: readonly string[] | undefined): boolean {
  if (!only || only.length === 0) return true;
  return only.some((p) => id === p || id.startsWith(p.endsWith('.') ? p : `${p}.`));
}

/** Runs one case in one role. */
export async function runCase(
  c: Case,
  role: PeerRole,
  env: { server: EchoServer; testerServer: TesterServer; maxWait?: number | undefined },
): Promise<CaseResult> {
  const started = performance.now();
  const base = {
    id: c.id,
    category: categoryOf(c.id),
    role,
    title: c.title,
    rfc: c.rfc,
    expected: describeExpectation(c.expect),
  };
  let verdict: Verdict;
  let detail: string;
  let tester: Tester | undefined;
  let stelarClosed: Promise<{ code: number; reason: string }> | undefined;
  try {
    const setup = role === 'server' ? await setupServerRole(c, env.server) : await setupClientRole(c, env.testerServer);
    if (!setup.ok) {
      verdict = setup.result;
      detail = setup.detail;
    } else {
      tester = setup.tester;
      stelarClosed = setup.stelarClosed;
      await c.run(tester);
      const hung = await finish(c, tester, env.maxWait);
      ({ verdict, detail } = judge(c, tester, hung));
    }
  } catch (err) {
    verdict = 'FAIL';
    detail = `harness error: ${(err as Error).stack ?? String(err)}`;
  }
  tester?.destroy();
  // Once the TCP connection is gone on the tester's side, the Stelar end must notice at once:
  // a connection kept until its close timer is a peer that stopped reading (NON-STRICT).
  const LINGER_MS = 1000;
  const downgrade = (why: string): void => {
    if (verdict === 'PASS') verdict = 'NON-STRICT';
    detail = detail ? `${detail}; ${why}` : why;
  };
  if (stelarClosed) {
    const t0 = performance.now();
    const closed = await Promise.race([stelarClosed, sleep(3000).then(() => undefined)]);
    const ms = Math.round(performance.now() - t0);
    if (!closed) {
      if (verdict !== 'FAIL') verdict = 'FAIL';
      detail = `${detail ? `${detail}; ` : ''}the client never reported the close`;
    } else if (ms > LINGER_MS) {
      downgrade(`the client noticed the closed connection only after ${ms} ms (its close timer), reporting ${closed.code}`);
    }
  } else if (role === 'server' && tester) {
    const ms = await env.server.idle(3000);
    if (ms === undefined) {
      if (verdict !== 'FAIL') verdict = 'FAIL';
      detail = `${detail ? `${detail}; ` : ''}the server kept the connection open`;
    } else if (ms > LINGER_MS) downgrade(`the server released the connection only after ${ms} ms (its close timer)`);
  }
  const result: CaseResult = { ...base, verdict, detail, durationMs: Math.round(performance.now() - started) };
  if (tester && Object.keys(tester.metrics).length > 0) result.metrics = tester.metrics;
  if (tester && tester.notes.length > 0) result.notes = tester.notes;
  const ex = EXCEPTIONS.find((x) => x.role === role && x.id === c.id);
  if (ex && verdict === ex.verdict) result.exception = ex.reason;
  return result;
}

/** Runs the catalogue (sequentially per role; the two roles in parallel). */
export async function runCatalogue(cases: readonly Case[], options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const roles = options.roles ?? (['server', 'client'] as const);
  const server = options.target ?? (await startEchoServer());
  const testerServer = new TesterServer();
  await testerServer.start();
  const results: CaseResult[] = [];
  try {
    await Promise.all(
      roles.map(async (role) => {
        for (const c of cases) {
          if (!matches(c.id, options.only)) continue;
          if (c.roles && !c.roles.includes(role)) continue;
          const r = await runCase(c, role, { server, testerServer, maxWait: options.maxWait });
          results.push(r);
          options.onResult?.(r);
        }
      }),
    );
  } finally {
    if (!options.target) await server.close();
    await testerServer.close();
  }
  const order = new Map(cases.map((c, i) => [c.id, i]));
  results.sort((a, b) => (a.role === b.role ? order.get(a.id)! - order.get(b.id)! : a.role === 'server' ? -1 : 1));
  return {
    generatedAt: new Date().toISOString(),
    node: process.version,
    durationMs: Math.round(performance.now() - started),
    ...summarize(results),
    results,
  };
}

export function summarize(results: readonly CaseResult[]): Pick<Report, 'summary' | 'totals'> {
  const summary = { server: {}, client: {} } as Report['summary'];
  const totals = { server: { pass: 0, nonStrict: 0, fail: 0 }, client: { pass: 0, nonStrict: 0, fail: 0 } } as Report['totals'];
  for (const r of results) {
    const key = `${r.category} ${CATEGORY_NAMES[r.category] ?? ''}`.trim();
    const row = (summary[r.role][key] ??= { pass: 0, nonStrict: 0, fail: 0 });
    const field = r.verdict === 'PASS' ? 'pass' : r.verdict === 'NON-STRICT' ? 'nonStrict' : 'fail';
    row[field]++;
    totals[r.role][field]++;
  }
  return { summary, totals };
}

/** The summary as a fixed-width table. */
export function formatSummary(report: Pick<Report, 'summary' | 'totals'>): string {
  const cats = [...new Set([...Object.keys(report.summary.server), ...Object.keys(report.summary.client)])].sort(
    (a, b) => parseInt(a, 10) - parseInt(b, 10),
  );
  const cell = (x: { pass: number; nonStrict: number; fail: number } | undefined): string =>
    x ? `${String(x.pass).padStart(5)} ${String(x.nonStrict).padStart(10)} ${String(x.fail).padStart(5)}` : `${'-'.padStart(5)} ${'-'.padStart(10)} ${'-'.padStart(5)}`;
  const lines = [
    `${'category'.padEnd(24)} | ${'server role'.padEnd(22)} | client role`,
    `${''.padEnd(24)} | ${'pass'.padStart(5)} ${'non-strict'.padStart(10)} ${'fail'.padStart(5)} | ${'pass'.padStart(5)} ${'non-strict'.padStart(10)} ${'fail'.padStart(5)}`,
    `${'-'.repeat(24)}-+-${'-'.repeat(22)}-+-${'-'.repeat(22)}`,
  ];
  for (const cat of cats) lines.push(`${cat.padEnd(24)} | ${cell(report.summary.server[cat])} | ${cell(report.summary.client[cat])}`);
  lines.push(`${'-'.repeat(24)}-+-${'-'.repeat(22)}-+-${'-'.repeat(22)}`);
  lines.push(`${'total'.padEnd(24)} | ${cell(report.totals.server)} | ${cell(report.totals.client)}`);
  return lines.join('\n');
}
