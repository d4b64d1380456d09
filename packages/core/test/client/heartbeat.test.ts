import { decodeFrame, FrameType } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { Heartbeat } from '../../src/client/heartbeat';
import { recordingLink } from '../fixtures';
import { tick, until } from '../memory-link';

describe('Heartbeat (client)', () => {
  it('one PING after `interval` of silence; signs of life reset it; the link is terminated after `interval + timeout`', async () => {
    const rec = recordingLink();
    const hb = new Heartbeat({ interval: 40, timeout: 40 });
    hb.alive();
    hb.start(() => rec.link, 0);
    for (let i = 0; i < 6; i++) {
      await tick(10);
      hb.alive(); // the server keeps talking: no PING
    }
    expect(rec.sent).toHaveLength(0);
    await until(() => rec.sent.length === 1, 1000);
    expect(decodeFrame(rec.sent[0]!.frame).type).toBe(FrameType.PING);
    await until(() => rec.calls.includes('terminate'), 1000);
    expect(rec.sent).toHaveLength(1);
    hb.stop();
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
