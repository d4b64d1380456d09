// The entry of the <script> bundle (dist/stelar.min.js): the package's exports as the global
// `Stelar`. Assigned by hand rather than through esbuild's `globalName`, which wraps the exports
// in getters and costs about 250 bytes of gzip; test/api.test.ts checks both lists are the same.
import { connect, createClient, DialError, dialWebSocket, DisconnectCode, ErrorCode, resolveUrl, StelarClient, StelarError } from './index';

(globalThis as { Stelar?: unknown }).Stelar = { connect, createClient, DialError, dialWebSocket, DisconnectCode, ErrorCode, resolveUrl, StelarClient, StelarError };
