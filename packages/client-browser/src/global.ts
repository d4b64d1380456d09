// The entry of the <script> bundle (dist/stelar.min.js): the client API as the global `Stelar`.
// Assigned by hand rather than through esbuild's `globalName`, which wraps the exports in getters
// and costs about 250 bytes of gzip. The package's other exports (`ErrorCode` and
// `DisconnectCode`, the code tables; `dialWebSocket`, a Dialer for core's engine) are for
// bundlers only: test/api.test.ts checks the global is the package's exports without them.
import { connect, createClient, DialError, resolveUrl, StelarClient, StelarError } from './index';

(globalThis as { Stelar?: unknown }).Stelar = { connect, createClient, DialError, resolveUrl, StelarClient, StelarError };
