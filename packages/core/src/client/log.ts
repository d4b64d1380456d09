import { LogSink, type Logger } from '../logger';
import type { ClientLifecycle } from './options';

/**
 * The client's log lines, one per lifecycle notification: the state at debug, connected and
 * disconnected at info, reconnection attempts and failed attempts to be retried at debug, giving
 * up, a failed attempt that stops the client, and errors at warn. Returns `undefined` when there
 * is no logger (the engine then does nothing per notification).
 */
export function lifecycleLog(logger: Logger | false | undefined): (<K extends keyof ClientLifecycle>(name: K, args: Parameters<ClientLifecycle[K]>) => void) | undefined {
  if (!logger) return undefined;
  const log = new LogSink(logger);
  return (name, args) => {
    const a = args as unknown[];
    switch (name) {
      case 'state':
        log.debug?.({ state: a[0] }, 'state');
        break;
      case 'connected':
        log.info?.({ ...(a[0] as object) }, 'connected');
        break;
      case 'disconnected':
        log.info?.({ ...(a[0] as object) }, 'disconnected');
        break;
      case 'reconnecting':
        log.debug?.({ ...(a[0] as object) }, 'reconnecting');
        break;
      case 'connect_error': {
        const [err, info] = a as [Error, { attempt: number; willRetry: boolean }];
        if (info.willRetry) log.debug?.({ attempt: info.attempt, err }, 'connect error');
        else log.warn?.({ attempt: info.attempt, err }, 'connect failed');
        break;
      }
      case 'reconnect_failed': {
        const info = a[0] as { attempts: number; error: unknown };
        log.warn?.({ attempts: info.attempts, err: info.error }, 'gave up reconnecting');
        break;
      }
      case 'error':
        log.warn?.({ err: a[0], event: a[1] }, 'error');
        break;
    }
  };
}
