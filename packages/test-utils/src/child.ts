import { spawn } from 'node:child_process';

/** A Node child process the test talks to by lines (see `spawnChild`). */
export interface Child {
  readonly pid: number;
  /**
   * Takes the next stdout line that is `word` or starts with `word` and a space, and resolves with
   * the rest of it (JSON-parsed when it is JSON). Rejects when the child exits first or after
   * `timeout` ms (default 20 000).
   */
  line<T = unknown>(word: string, timeout?: number): Promise<T>;
  /** Writes one line to the child's stdin (nothing once it is closed). */
  send(line: string): void;
  /** Everything the child wrote to stdout so far. */
  stdout(): string;
  /** What the child wrote to stderr so far (the first 64 KiB; empty with `stderr: 'inherit'`). */
  stderr(): string;
  /** Sends `signal` to the child's pid, if it is still running. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code, or the signal that ended the child. */
  readonly exited: Promise<number | string | null>;
  /**
   * Ends the child: writes `say` to its stdin when given and waits up to `wait` ms (default 5000)
   * for it to exit, then kills it (SIGKILL, by pid) and waits for the exit.
   */
  stop(options?: { say?: string; wait?: number }): Promise<void>;
}

/**
 * Runs `node <args>` with stdin, stdout and stderr piped (`stderr: 'inherit'` shows it instead).
 * The child is killed by pid after `killAfter` ms (default 60 000) if it is still running, so a
 * stuck child cannot outlive its test by much. `name` appears in errors.
 */
export function spawnChild(
  args: readonly string[],
  options: { name?: string; env?: NodeJS.ProcessEnv; stderr?: 'pipe' | 'inherit'; killAfter?: number } = {},
): Child {
  const name = options.name ?? 'child';
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', options.stderr ?? 'pipe'], env: options.env ?? process.env });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    if (running() && child.pid !== undefined) process.kill(child.pid, signal);
  };
  const killer = setTimeout(() => kill(), options.killAfter ?? 60_000);
  killer.unref();
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let all = '';
  let partial = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    all += d;
    partial += d;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (err.length < 64 * 1024) err += d;
  });
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      for (const w of waiters.splice(0)) w();
      resolve(code ?? signal);
    }),
  );
  return {
    pid: child.pid ?? -1,
    async line<T>(word: string, timeout = 20_000): Promise<T> {
      const start = Date.now();
      for (;;) {
        const i = lines.findIndex((l) => l === word || l.startsWith(`${word} `));
        if (i >= 0) {
          const rest = lines.splice(i, 1)[0]!.slice(word.length).trim();
          try {
            return JSON.parse(rest) as T;
          } catch {
            return rest as T;
          }
        }
        if (!running()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before "${word}": ${err.slice(0, 2000)}`);
        const left = timeout - (Date.now() - start);
        if (left <= 0) throw new Error(`${name}: no "${word}" line within ${timeout} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    send(line: string): void {
      if (child.stdin!.writable) child.stdin!.write(`${line}\n`);
    },
    stdout: () => all,
    stderr: () => err,
    kill,
    exited,
    async stop(stopOptions: { say?: string; wait?: number } = {}): Promise<void> {
      if (stopOptions.say !== undefined && running()) {
        if (child.stdin!.writable) child.stdin!.write(`${stopOptions.say}\n`);
        const timer = setTimeout(() => kill(), stopOptions.wait ?? 5000);
        await exited;
        clearTimeout(timer);
        return;
      }
      kill();
      await exited;
    },
  };
}
