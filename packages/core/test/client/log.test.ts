/** The client engine's `logger` (issue 15 item 7): one line per lifecycle notification, at its level. */
import { describe, expect, it } from 'vitest';
import type { Logger, LogLevel } from '../../src/client/index';
import { lifecycleLog } from '../../src/client/log';
import { useHubs } from '../fixtures';
import { until } from '../memory-link';

const setup = useHubs();

function recorder() {
  const lines: string[] = [];
  const at = (level: LogLevel) => (fields: Record<string, unknown>, message: string) => void lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

describe('client logger', () => {
  it('none given: nothing runs per notification', () => {
    expect(lifecycleLog(undefined)).toBeUndefined();
    expect(lifecycleLog(false)).toBeUndefined();
  });

  it('state changes and reconnection at debug, connected and disconnected at info, errors and giving up at warn', async () => {
    const { lines, logger } = recorder();
    const { hub, client } = setup();
    hub.on('boom', () => {
      throw new Error('x');
    });
    const c = client({ logger, reconnect: { baseDelay: 1, maxDelay: 2, maxAttempts: 1 } });
    await c.connect();
    c.emit('boom');
    await until(() => lines.some((l) => l.startsWith('warn error')));
    await hub.drain({ timeout: 100 });
    await until(() => lines.some((l) => l.startsWith('warn gave up')));
    const levels = lines.map((l) => l.split(' ').slice(0, 2).join(' '));
    expect(levels.slice(0, 4)).toEqual(['debug state', 'debug state', 'info connected', 'warn error']);
    expect(levels).toContain('info disconnected');
    expect(levels).toContain('debug reconnecting');
    expect(lines.find((l) => l.startsWith('info connected'))).toContain('{"id":"');
    expect(lines.find((l) => l.startsWith('info disconnected'))).toContain('"code":1001');
  });

  it('a failed attempt: at debug when it will be retried, at warn when the client stops after it', () => {
    const { lines, logger } = recorder();
    const log = lifecycleLog(logger)!;
    log('connect_error', [new Error('connect ECONNREFUSED'), { attempt: 0, willRetry: true }]);
    log('connect_error', [new Error('not a Stelar server'), { attempt: 1, willRetry: false }]);
    expect(lines.map((l) => l.split(' {')[0])).toEqual(['debug connect error', 'warn connect failed']);
    expect(lines[0]).toContain('"attempt":0');
  });
});
