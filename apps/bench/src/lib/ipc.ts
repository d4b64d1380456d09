/**
 * Request/response over the IPC channel of `child_process.fork`, and the bookkeeping that makes
 * sure every child process the controller started is killed (by pid) on every path.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { errorMessage } from './common';

interface Request {
  id: number;
  type: string;
  [key: string]: unknown;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const live = new Set<ChildProcess>();

function killPid(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills every child process still alive, by pid. Safe to call more than once. */
export function killAllChildren(): void {
  for (const c of live) killPid(c);
  live.clear();
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous: runs even when the controller exits through an uncaught error.
  process.on('exit', killAllChildren);
}

/** A forked child answering typed requests (see {@link serveRequests}). */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited: Promise<void>;
  private stderrTail = '';

  private constructor(name: string, proc: ChildProcess) {
    this.name = name;
    this.proc = proc;
    live.add(proc);
    this.exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        const why = `${name} exited (${signal ?? code ?? '?'})${this.stderrTail ? `: ${this.stderrTail.trim().slice(-500)}` : ''}`;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(why));
        }
        this.pending.clear();
        resolve();
      });
    });
    proc.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${name}: ${m.error ?? 'failed'}`));
    });
    proc.on('error', () => undefined);
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
  }

  /** Forks `file` with `execArgv`; stdout is inherited when `verbose`, stderr is kept for errors. */
  static fork(name: string, file: string, execArgv: string[] = [], env: NodeJS.ProcessEnv = process.env): Child {
    installExitHook();
    const proc = fork(file, [], { execArgv, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    return new Child(name, proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  call<T>(type: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.proc.connected) {
        reject(new Error(`${this.name} is not connected${this.stderrTail ? `: ${this.stderrTail.trim().slice(-500)}` : ''}`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${type} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const req: Request = { ...args, id, type };
      this.proc.send(req, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        reject(err);
      });
    });
  }

  /** Asks the child to exit (`stop` request), waits up to `graceMs`, then kills it by pid. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      await this.call('stop', {}, graceMs);
    } catch {
      // it may exit before answering
    }
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.kill();
    await this.exited;
  }

  /** Kills the child by pid (SIGKILL). */
  kill(): void {
    killPid(this.proc);
  }

  /** Resolves when the process has exited. */
  waitExit(): Promise<void> {
    return this.exited;
  }
}

type Handler = (req: Record<string, unknown>) => unknown;

/**
 * Child side: answers `{ id, type, … }` requests with `handlers[type]`. A `stop` handler should
 * end the process (after answering); the child exits on its own when the parent goes away.
 */
export function serveRequests(handlers: Record<string, Handler>): void {
  const send = (r: Reply): void => {
    if (process.connected) process.send?.(r);
  };
  process.on('message', (raw: unknown) => {
    const req = raw as Request;
    const h = handlers[req.type];
    if (!h) {
      send({ id: req.id, ok: false, error: `unknown request ${req.type}` });
      return;
    }
    let out: unknown;
    try {
      out = h(req);
    } catch (err) {
      send({ id: req.id, ok: false, error: errorMessage(err) });
      return;
    }
    Promise.resolve(out).then(
      (result) => send({ id: req.id, ok: true, result }),
      (err: unknown) => send({ id: req.id, ok: false, error: errorMessage(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
