import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as netConnect } from 'node:net';
import { Hub, type AnyEvents, type HubOptions } from '@stelar/core';
import { ClientEngine } from '@stelar/core/client';
import { memoryDialer, tick, until } from '../../core/test/memory-link';
import { createRedisAdapter, type RedisAdapter, type RedisAdapterOptions } from '../src/index';

export { tick, until };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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

  /** Kills the server (SIGKILL: connections drop, nothing is flushed) and waits for its port to close. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
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

/** The suite's Redis: STELAR_REDIS_URL when the test runner started one, else our own. */
export async function sharedRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const url = process.env['STELAR_REDIS_URL'];
  if (url) return { url, stop: async () => undefined };
  const s = await RedisServer.start();
  return { url: s.url, stop: () => s.stop() };
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
    for (const c of this.clients.splice(0)) c.close();
    for (const { hub } of this.nodes.splice(0)) {
      await hub.drain({ timeout: 200 });
      await hub.dispose();
    }
  }
}

/** Counts every event each client receives, by event name. */
export function recorder(client: ClientEngine<Events>): Map<string, unknown[]> {
  const got = new Map<string, unknown[]>();
  client.onAny((event, data) => {
    let list = got.get(event);
    if (!list) got.set(event, (list = []));
    list.push(data);
  });
  return got;
}
