import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Hub, type AnyEvents, type HubOptions } from '@stelar/core';
import { ClientEngine } from '@stelar/core/client';
import { disposeNodes, freePort, redisForTest } from '@stelar/test-utils';
import { sourceAliases } from '../../../scripts/source-aliases.mjs';
import { memoryDialer, tick, until } from '../../core/test/memory-link';
import { createRedisAdapter, type RedisAdapter, type RedisAdapterOptions } from '../src/index';

export { tick, until };

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A redis-server of our own on loopback, no persistence; stopped by its pid. */
export class RedisServer {
  private proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<RedisServer> {
    const s = new RedisServer(port ?? (await freePort()));
    await s.start();
    return s;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env['REDIS_SERVER'] ?? 'redis-server';
    const proc = spawn(bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: 'ignore',
    });
    this.proc = proc;
    let spawnError: Error | undefined;
    proc.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + 5_000;
    while (!(await portOpen(this.port))) {
      if (spawnError) {
        throw new Error(`cannot run ${bin} (${spawnError.message}): install redis-server (Debian: apt-get install redis-server; scripts/system-deps.sh does it) or set REDIS_SERVER`);
      }
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await tick(20);
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGSTOP: the process freezes, its sockets stay open (the kernel still accepts connections). */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** SIGCONT. */
  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /**
   * Stops the server and waits for its port to close: SIGKILL (connections drop, nothing is
   * flushed) or SIGTERM (Redis's own shutdown: it closes its clients and exits).
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    if (signal === 'SIGTERM') proc.kill('SIGCONT');
    await exited;
    const deadline = Date.now() + 5_000;
    while (await portOpen(this.port)) {
      if (Date.now() > deadline) throw new Error('redis-server port still open');
      await tick(20);
    }
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

/** A free port whose cluster bus port (+10 000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (!(await portOpen(port)) && !(await portOpen(port + 10_000)) && (await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)));
  });
}

/**
 * A local Redis Cluster of three masters (no replicas): three redis-server processes with
 * `--cluster-enabled yes` on loopback, joined by `redis-cli --cluster create`, stopped by pid.
 */
export class RedisClusterServer {
  private constructor(
    readonly ports: number[],
    private readonly procs: ChildProcess[],
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisClusterServer> {
    const dir = mkdtempSync(join(tmpdir(), 'stelar-redis-cluster-'));
    const ports: number[] = [];
    const procs: ChildProcess[] = [];
    const bin = process.env['REDIS_SERVER'] ?? 'redis-server';
    try {
      for (let i = 0; i < 3; i++) {
        const port = await freeClusterPort();
        const nodeDir = join(dir, String(port));
        mkdirSync(nodeDir);
        const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--dir', nodeDir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
        procs.push(spawn(bin, args, { stdio: 'ignore' }));
        ports.push(port);
        const deadline = Date.now() + 5_000;
        while (!(await portOpen(port))) {
          if (procs.at(-1)!.exitCode !== null) throw new Error(`cluster redis-server exited with ${procs.at(-1)!.exitCode}`);
          if (Date.now() > deadline) throw new Error('cluster redis-server did not start');
          await tick(20);
        }
      }
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes']);
      // Every node must agree that all slots are served before clients use the cluster.
      const deadline = Date.now() + 10_000;
      for (const port of ports) {
        while (!(await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
          await tick(50);
        }
      }
    } catch (err) {
      for (const p of procs) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new RedisClusterServer(ports, procs, dir);
  }

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null ? undefined : new Promise<void>((resolve) => (p.once('exit', () => resolve()), p.kill('SIGKILL')))),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The suite's Redis: STELAR_REDIS_URL when the test runner started one, else our own (test-utils' `redisForTest`). */
export const sharedRedis = redisForTest;

/** The adapter's channel names for a prefix (see the README's channel layout). */
export function channelsOf(prefix: string, sharded = false): { req: string; global: string; res(node: string): string; room(r: string): string } {
  const tag = `{${prefix}}`;
  return { req: `${tag}#req`, global: sharded ? `${tag}#all` : `${tag}#bc`, res: (node) => `${tag}#res#${node}`, room: (r) => `${prefix}#room#${r}` };
}

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
let bundled: Promise<string> | undefined;

/** `fixtures/node-process.ts` bundled from the sources (once per test file), for `spawnNode`. */
function nodeBundle(): Promise<string> {
  const fromSource: Plugin = {
    name: 'stelar-from-source',
    setup(b) {
      const sources = new Map(sourceAliases());
      b.onResolve({ filter: /^@stelar\// }, (args) => {
        const file = sources.get(args.path);
        return file ? { path: file } : undefined;
      });
    },
  };
  bundled ??= (async () => {
    // Inside this package's node_modules, so the bundle resolves ioredis like the package does.
    const dir = join(repo, 'packages', 'adapter-redis', 'node_modules', '.cache', `test-node-${process.pid}`);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'node-process.mjs');
    await build({
      entryPoints: [join(here, 'fixtures', 'node-process.ts')],
      outfile: out,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'error',
      external: ['ioredis'],
      plugins: [fromSource],
    });
    return out;
  })();
  return bundled;
}

/** A cluster node in a child process (so it can be killed for real); see fixtures/node-process.ts. */
export interface NodeProcess {
  nodeId: string;
  /** Ids of its in-memory clients, all in room `r`. */
  ids: string[];
  proc: ChildProcess;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export async function spawnNode(env: { url: string; prefix: string; sharded?: boolean; clients?: number; heartbeat?: number; nodeTimeout?: number }): Promise<NodeProcess> {
  const script = await nodeBundle();
  const proc = spawn(process.execPath, [script], {
    cwd: join(repo, 'packages', 'adapter-redis'),
    env: {
      ...process.env,
      REDIS_URL: env.url,
      PREFIX: env.prefix,
      SHARDED: env.sharded ? '1' : '0',
      CLIENTS: String(env.clients ?? 1),
      HEARTBEAT: String(env.heartbeat ?? 100),
      NODE_TIMEOUT: String(env.nodeTimeout ?? 600),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('node process did not start in 10 s')), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node process exited with ${code}`));
    });
  });
  const info = JSON.parse(first) as { nodeId: string; ids: string[] };
  return {
    ...info,
    proc,
    signal: (sig) => void proc.kill(sig),
    kill: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

let prefixes = 0;
/** A channel prefix no other test uses (tests share one Redis). */
export function uniquePrefix(): string {
  return `t${process.pid}-${Date.now().toString(36)}-${++prefixes}`;
}

export type Events = AnyEvents;

export interface Node {
  hub: Hub<Events>;
  adapter: RedisAdapter;
  client(opts?: ConstructorParameters<typeof ClientEngine>[1]): Promise<ClientEngine<Events>>;
}

/** Hubs, adapters and clients of one test, closed by `dispose()`. */
export class Cluster {
  readonly nodes: Node[] = [];
  private readonly clients: ClientEngine<Events>[] = [];

  constructor(
    private readonly url: string,
    readonly prefix = uniquePrefix(),
  ) {}

  async add(options: RedisAdapterOptions = {}, hubOptions: HubOptions = {}): Promise<Node> {
    const adapter = createRedisAdapter({ url: this.url, prefix: this.prefix, heartbeatInterval: 100, nodeTimeout: 600, requestTimeout: 2_000, ...options });
    const hub = new Hub<Events>({ heartbeat: false, ...hubOptions, adapter });
    const node: Node = {
      hub,
      adapter,
      client: async (opts = {}) => {
        const c = new ClientEngine<Events>(memoryDialer(() => hub), { heartbeat: false, reconnect: false, ...opts });
        this.clients.push(c);
        await c.connect();
        return c;
      },
    };
    this.nodes.push(node);
    await hub.ready();
    return node;
  }

  /** `n` nodes that all know each other. */
  async start(n: number, options: RedisAdapterOptions = {}): Promise<Node[]> {
    const out: Node[] = [];
    for (let i = 0; i < n; i++) out.push(await this.add(options));
    await this.converged();
    return out;
  }

  /** Waits until every live node sees all the others. */
  async converged(timeout = 3_000): Promise<void> {
    const n = this.nodes.length;
    await until(() => this.nodes.every((x) => x.adapter.nodeCount() === n), timeout);
  }

  async dispose(): Promise<void> {
    await disposeNodes(this.clients, this.nodes, 200);
  }
}

/**
 * One Redis for the test file (started before its first test, stopped after its last) and the
 * clusters it makes (`cluster()`), each disposed of after the test that made it.
 */
export function useRedis(): { readonly url: string; cluster(): Cluster } {
  let redis: { url: string; stop(): Promise<void> } | undefined;
  const made: Cluster[] = [];
  beforeAll(async () => {
    redis = await sharedRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of made.splice(0)) await c.dispose();
  });
  const url = (): string => {
    if (!redis) throw new Error('useRedis(): Redis is not started yet (use it inside a test)');
    return redis.url;
  };
  return {
    get url() {
      return url();
    },
    cluster() {
      const c = new Cluster(url());
      made.push(c);
      return c;
    },
  };
}
