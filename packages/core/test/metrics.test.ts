import { describe, expect, it } from 'vitest';
import { Metrics, toPrometheus } from '../src/metrics';

describe('Metrics', () => {
  it('Stelar codes keep their label; 64 others are admitted; the rest, long ones and odd characters count as "other"', () => {
    const m = new Metrics(() => 0);
    m.error('PROTOCOL');
    m.error('HEARTBEAT_TIMEOUT');
    for (let i = 0; i < 100; i++) m.error(`APP_${i}`);
    m.error('X'.repeat(65));
    m.error('with space');
    m.error('PROTOCOL');
    expect(m.errors['PROTOCOL']).toBe(2);
    expect(m.errors['HEARTBEAT_TIMEOUT']).toBe(1);
    expect(m.errors['APP_63']).toBe(1);
    expect(m.errors['APP_64']).toBeUndefined();
    expect(m.errors['other']).toBe(36 + 2);
    m.peerError('BAD_JSON');
    m.peerError('whatever');
    m.peerError('Y'.repeat(1 << 20));
    expect(m.errors['peer:BAD_JSON']).toBe(1);
    expect(m.errors['peer:other']).toBe(2);
    expect(Object.keys(m.errors)).toHaveLength(2 + 64 + 1 + 2);
  });

  it('snapshot: every counter, copies (not live objects), uptime from the clock', () => {
    let t = 1000;
    const m = new Metrics(() => t);
    m.opening = 1;
    m.open = 2;
    m.total = 3;
    m.transportDelta('ws', 2);
    m.transportDelta('tcp', 1);
    m.transportDelta('tcp', -1);
    m.messagesIn = 4;
    m.acksPending = 5;
    m.error('TIMEOUT');
    t = 3500;
    const s = m.snapshot({ published: 9 });
    expect(s.connections).toEqual({ open: 2, opening: 1, byTransport: { ws: 2, tcp: 0 }, total: 3, rejected: 0 });
    expect(s.messages).toEqual({ in: 4, out: 0 });
    expect(s.acks).toEqual({ pending: 5, timedOut: 0, inFlightHandlers: 0 });
    expect(s.errors).toEqual({ TIMEOUT: 1 });
    expect(s.adapter).toEqual({ published: 9 });
    expect(s.uptimeMs).toBe(2500);
    s.connections.byTransport['ws'] = 99;
    s.errors['TIMEOUT'] = 99;
    expect(m.connections().byTransport['ws']).toBe(2);
    expect(m.errors['TIMEOUT']).toBe(1);
  });
});

describe('toPrometheus', () => {
  it('text format 0.0.4: HELP and TYPE per metric, labels escaped, the prefix applied', () => {
    const m = new Metrics(() => 0);
    m.transportDelta('ws', 1);
    m.error('peer:other');
    const text = toPrometheus(m.snapshot({ 'a"b\\c\nd': 1 }), 'app');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('# HELP app_connections Open sessions by transport.\n# TYPE app_connections gauge\napp_connections{transport="ws"} 1\n');
    expect(text).toContain('app_errors_total{code="peer:other"} 1');
    expect(text).toContain('app_adapter{counter="a\\"b\\\\c\\nd"} 1');
    expect(text).toContain('app_uptime_seconds 0');
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) app_\w+ .+|app_\w+(\{.*\})? -?[\d.e+]+)$/);
  });
});
