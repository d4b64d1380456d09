// A <script> bundle whose StelarClient is core's ClientEngine (over this package's dialer) instead
// of the package's own engine: test/parity.test.ts runs against both, so the two engines are held
// to the same behaviour by the same tests.
import { ClientEngine, type AnyEvents } from '@stelar/core/client';
import { resolveUrl, type BrowserClientOptions } from '../src/options';
import { dialWebSocket } from '../src/dial';
import * as pkg from '../src/index';

class CoreClient<In extends object = AnyEvents, Out extends object = In> extends ClientEngine<In, Out> {
  readonly url: string;
  constructor(url?: string | URL, options: BrowserClientOptions = {}) {
    const href = resolveUrl(url);
    super(dialWebSocket(href, options), options);
    this.url = href;
  }
}

(globalThis as { Stelar?: unknown }).Stelar = {
  ...pkg,
  StelarClient: CoreClient,
  createClient: (url?: string | URL, options: BrowserClientOptions = {}) => new CoreClient(url, options),
  connect: (url?: string | URL, options: BrowserClientOptions = {}) => {
    const c = new CoreClient(url, options);
    if (options.autoConnect !== false) c.connect().catch(() => undefined);
    return c;
  },
};
