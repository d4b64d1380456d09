import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HealthOptions {
  /** Liveness: 200 while the process serves. Default `/healthz`. */
  livePath?: string;
  /** Readiness: 200 when accepting, 503 while starting or draining. Default `/readyz`. */
  readyPath?: string;
  /**
   * Your own readiness check (a database, a cache…), asked on each `/readyz` while the server
   * itself is ready: `false`, a throw, a rejection or no answer within `readyTimeout` answer 503
   * (a throw or rejection is also reported to `onError` or the logger).
   */
  ready?: () => boolean | Promise<boolean>;
  /** Most time (ms) `ready` may take. Default 2 000. */
  readyTimeout?: number;
}

export interface MetricsOptions {
  /** Default `/metrics`. */
  path?: string;
  /** Metric name prefix. Default `stelar`. */
  prefix?: string;
}

export interface HttpRoutesSource {
  isLive(): boolean;
  isReady(): boolean;
  metricsText(prefix?: string): string;
  stats(): unknown;
  /** A `ready` hook threw or rejected. */
  failed(err: unknown): void;
}

/**
 * Builds the handler for the opt-in HTTP routes. It answers only its exact paths (GET/HEAD) and
 * returns false for everything else, so other routes are never touched.
 */
export function createRoutes(
  source: HttpRoutesSource,
  health: HealthOptions | false,
  metrics: MetricsOptions | false,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const live = health ? (health.livePath ?? '/healthz') : null;
  const ready = health ? (health.readyPath ?? '/readyz') : null;
  const metricsPath = metrics ? (metrics.path ?? '/metrics') : null;
  const prefix = metrics ? metrics.prefix : undefined;
  const appReady = health ? health.ready : undefined;
  const readyTimeout = health ? (health.readyTimeout ?? 2_000) : 0;
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let status: number;
    let body: string;
    let type = JSON_TYPE;
    if (path === live) {
      const ok = source.isLive();
      status = ok ? 200 : 503;
      body = JSON.stringify({ status: ok ? 'ok' : 'down' });
    } else if (path === ready) {
      const ok = source.isReady();
      if (ok && appReady) {
        void askApp(appReady, readyTimeout, source.failed).then((verdict) => {
          const yes = verdict && source.isReady();
          send(res, req.method === 'HEAD', yes ? 200 : 503, JSON_TYPE, JSON.stringify({ status: yes ? 'ready' : 'not ready', connections: source.stats() }));
        });
        return true;
      }
      status = ok ? 200 : 503;
      body = JSON.stringify({ status: ok ? 'ready' : 'not ready', connections: source.stats() });
    } else if (path === metricsPath) {
      status = 200;
      body = source.metricsText(prefix);
      type = 'text/plain; version=0.0.4; charset=utf-8';
    } else return false;
    send(res, req.method === 'HEAD', status, type, body);
    return true;
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, head: boolean, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/** The application's readiness verdict: false on a throw, a rejection or after `timeout` ms. */
function askApp(ready: () => boolean | Promise<boolean>, timeout: number, failed: (err: unknown) => void): Promise<boolean> {
  let verdict: boolean | Promise<boolean>;
  try {
    verdict = ready();
  } catch (err) {
    failed(err);
    return Promise.resolve(false);
  }
  if (typeof verdict === 'boolean') return Promise.resolve(verdict);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeout);
    Promise.resolve(verdict).then(
      (v) => {
        clearTimeout(timer);
        resolve(v === true);
      },
      (err: unknown) => {
        clearTimeout(timer);
        failed(err);
        resolve(false);
      },
    );
  });
}
