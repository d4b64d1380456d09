import type { AnyEvents } from '@stelar/core/client';
import { StelarClient } from './client';
import type { BrowserClientOptions } from './options';

/**
 * Creates a client without connecting: call `connect()` when ready (as `createServer` waits for
 * `listen()`).
 */
export const createClient = <In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options?: BrowserClientOptions): StelarClient<In, Out> =>
  new StelarClient<In, Out>(url, options);

/**
 * Creates a client and starts connecting (unless `autoConnect: false`). Register handlers right
 * away; `await client.connect()` resolves once the server accepted the session. Without `url`,
 * or with a relative one, it connects to the page's own host (`ws:` or `wss:` like the page).
 *
 * ```ts
 * const client = connect<Events>('/', { auth: { token } });
 * client.on('chat', (m) => console.log(m));
 * await client.connect();
 * ```
 */
export const connect = <In extends object = AnyEvents, Out extends object = In>(url?: string | URL, options?: BrowserClientOptions): StelarClient<In, Out> => {
  const client = new StelarClient<In, Out>(url, options);
  if (options?.autoConnect !== false) client.connect().catch(() => undefined);
  return client;
};
