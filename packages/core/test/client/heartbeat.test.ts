import { decodeFrame, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it, vi } from 'vitest';
import { Heartbeat } from '../../src/client/heartbeat';
import { recordingLink } from '../fixtures';
import { until } from '../memory-link';

describe('Heartbeat (client)', () => {
  it('one PING after `interval` of silence; signs of life reset it; the link is terminated after `interval + timeout`', () => {
    // Fake clock and timers: on a loaded host a real 10 ms step can take longer than the interval.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    try {
      const rec = recordingLink();
      const hb = new Heartbeat({ interval: 40, timeout: 40 });
      hb.alive();
      hb.start(() => rec.link, 0);
      for (let i = 0; i < 6; i++) {
        vi.advanceTimersByTime(10);
        hb.alive(); // the server keeps talking: no PING
      }
      expect(rec.sent).toHaveLength(0);
      vi.advanceTimersByTime(39);
      expect(rec.sent).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(rec.sent).toHaveLength(1);
      expect(decodeFrame(rec.sent[0]!.frame).type).toBe(FrameType.PING);
      vi.advanceTimersByTime(39);
      expect(rec.calls).not.toContain('terminate');
      vi.advanceTimersByTime(1);
      expect(rec.calls).toContain('terminate');
      expect(rec.sent).toHaveLength(1);
      hb.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('false: nothing runs; without a link nothing is sent; the server’s interval is the default', async () => {
    const rec = recordingLink();
    const off = new Heartbeat(false);
    off.start(() => rec.link, 10);
    const none = new Heartbeat({ timeout: 10 });
    none.start(() => null, 10);
    const server = new Heartbeat({ timeout: 1000 });
    server.alive();
    server.start(() => rec.link, 20);
    await until(() => rec.sent.length === 1, 1000);
    for (const h of [off, none, server]) h.stop();
    expect(rec.calls).toEqual([]);
  });
});
