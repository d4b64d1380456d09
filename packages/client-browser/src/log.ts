import type { ClientOptions } from '@stelar/core/client';
import type { Fn } from './helpers';
import { attempt } from './wire';

// The `logger` option of the client (src/client.ts), behind the LOGGER switch of src/features.ts.

/**
 * Writes a lifecycle notification to the logger, as core's `lifecycleLog` does: the state,
 * reconnection and failed attempts to be retried at debug; connected and disconnected at info;
 * giving up, a failed attempt that stops the client, and errors at warn. A logger that throws is
 * ignored.
 */
export const log = (logger: NonNullable<ClientOptions['logger']>, name: string, [a, b]: unknown[]): void => {
  const i = b as { attempt: number; willRetry: boolean };
  const line = (
    {
      state: ['debug', { state: a }],
      connected: ['info', { ...(a as object) }],
      disconnected: ['info', { ...(a as object) }],
      reconnecting: ['debug', { ...(a as object) }],
      connect_error: i?.willRetry ? ['debug', { attempt: i.attempt, err: a }, 'connect error'] : ['warn', { attempt: i?.attempt, err: a }, 'connect failed'],
      reconnect_failed: ['warn', { attempts: (a as { attempts: number }).attempts, err: (a as { error: unknown }).error }, 'gave up reconnecting'],
      error: ['warn', { err: a, event: b }],
    } as Record<string, [string, object, string?]>
  )[name];
  const l = logger as unknown as Record<string, Fn | undefined>;
  if (line && typeof l[line[0]] == 'function') attempt(() => l[line[0]]!.call(l, ...([line[1], line[2] ?? name] as never[])));
};
