import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HealthOptions {
  /** Liveness: 200 while the process serves. Default `/healthz`. */
  livePath?: string;
  /** Readiness: 200 when accepting, 503 while starting or draining. Default `/readyz`. */
  readyPath?: string;
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
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let status: number;
    let body: string;
    let type = 'application/json; charset=utf-8';
    if (path === live) {
      const ok = source.isLive();
      status = ok ? 200 : 503;
      body = JSON.stringify({ status: ok ? 'ok' : 'down' });
    } else if (path === ready) {
      const ok = source.isReady();
      status = ok ? 200 : 503;
      body = JSON.stringify({ status: ok ? 'ready' : 'not ready', connections: source.stats() });
    } else if (path === metricsPath) {
      status = 200;
      body = source.metricsText(prefix);
      type = 'text/plain; version=0.0.4; charset=utf-8';
    } else return false;
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
