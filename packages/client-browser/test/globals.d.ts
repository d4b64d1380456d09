import type * as StelarNamespace from '../src/index';

declare global {
  /** The IIFE bundle's global, as a page sees it (scripts/bundle.mjs BUNDLER_ONLY are left out). */
  // eslint-disable-next-line no-var
  var Stelar: Omit<typeof StelarNamespace, 'DisconnectCode' | 'ErrorCode' | 'dialWebSocket'>;
  /** Test state kept on the page's window between `page.evaluate` calls. */
  // eslint-disable-next-line no-var
  var t: {
    client: StelarNamespace.StelarClient;
    log: unknown[];
    states: string[];
    pending: Promise<unknown>[];
  };
  /** Free-form state a test keeps on the page between `page.evaluate` calls. */
  // eslint-disable-next-line no-var, @typescript-eslint/no-explicit-any
  var x: any;
}
