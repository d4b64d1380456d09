import { describe, it, expect, vi } from 'vitest';
import { Receiver } from '../src/index';
import { bytes, clientFrame, feed, feedBytewise, hex, recorder, serverFrame, text } from './helpers';

/**
 * Whole unfragmented data frames at the start of a pushed chunk are parsed straight from it;
 * anything else goes through the state machine. Both must give the same events.
 */
const msg = (s: string, binary = false) => ({ type: 'message', data: text(s), binary });
const err = (code: string, closeCode: number) => ({ type: 'error', code, closeCode });

describe('Receiver: whole frames read straight from the chunk', () => {
  it('whole data frames never enter the state machine; anything else does', () => {
    const step = vi.spyOn(Receiver.prototype as unknown as { step: () => boolean }, 'step');
    try {
      const { receiver, events } = recorder({ role: 'server' });
      feed(receiver, Buffer.concat([clientFrame(0x82, Buffer.alloc(20)), clientFrame(0x81, Buffer.from('x')), clientFrame(0x82, Buffer.alloc(70_000))]));
      expect(events).toHaveLength(3);
      expect(step).not.toHaveBeenCalled();
      feed(receiver, clientFrame(0x89, Buffer.from('p')));
      expect(step).toHaveBeenCalled();
    } finally {
      step.mockRestore();
    }
  });

  it('a message is a view of the pushed chunk, unmasked in place (no copy)', () => {
    const got: Buffer[] = [];
    const r = new Receiver(
      { role: 'server' },
      { onMessage: (d) => got.push(d), onPing: () => {}, onPong: () => {}, onClose: () => {}, onError: () => {} },
    );
    const chunk = Buffer.concat([clientFrame(0x82, Buffer.from('abc')), clientFrame(0x81, Buffer.from('héllo'))]);
    r.push(chunk);
    expect(got.map((d) => d.toString())).toEqual(['abc', 'héllo']);
    expect(got.every((d) => d.buffer === chunk.buffer)).toBe(true);
    expect(r.isIdle).toBe(true);
    expect(r.messagesReceived).toBe(2);
  });

  it('data, control, fragmented and partial frames mixed in one chunk keep their order', () => {
    const stream = Buffer.concat([
      clientFrame(0x82, Buffer.from('one')),
      clientFrame(0x89, Buffer.from('p')),
      clientFrame(0x81, Buffer.from('two')),
      clientFrame(0x01, Buffer.from('th')),
      clientFrame(0x80, Buffer.from('ree')),
      clientFrame(0x82, Buffer.alloc(300, 7)),
      clientFrame(0x81, Buffer.from('four')),
    ]);
    const whole = recorder({ role: 'server' });
    feed(whole.receiver, stream);
    const split = recorder({ role: 'server' });
    // Split inside the 16-bit length of the 300-byte frame: the rest resumes in the state machine.
    const cut = stream.length - (300 + 8) - (4 + 6) + 3;
    feed(split.receiver, stream.subarray(0, cut));
    feed(split.receiver, stream.subarray(cut));
    const bytewise = recorder({ role: 'server' });
    feedBytewise(bytewise.receiver, stream);
    expect(whole.events).toEqual([
      msg('one', true),
      { type: 'ping', data: text('p') },
      msg('two'),
      msg('three'),
      { type: 'message', data: Buffer.alloc(300, 7).toString('hex'), binary: true },
      msg('four'),
    ]);
    expect(split.events).toEqual(whole.events);
    expect(bytewise.events).toEqual(whole.events);
  });

  it('invalid UTF-8 in a whole text frame fails with 1007 and nothing after it is delivered', () => {
    const { receiver, events } = recorder({ role: 'server' });
    feed(receiver, Buffer.concat([clientFrame(0x81, Buffer.from('ok')), clientFrame(0x81, hex('c3 28')), clientFrame(0x82, Buffer.from('x'))]));
    expect(events).toEqual([msg('ok'), err('WS_INVALID_UTF8', 1007)]);
    expect(receiver.isDone).toBe(true);
  });

  it('limits, RSV bits and the mask rule are still enforced for whole frames', () => {
    const big = recorder({ role: 'server', maxMessageSize: 10 });
    feed(big.receiver, Buffer.concat([clientFrame(0x82, Buffer.alloc(10)), clientFrame(0x82, Buffer.alloc(11))]));
    expect(big.events).toEqual([{ type: 'message', data: Buffer.alloc(10).toString('hex'), binary: true }, err('WS_FRAME_TOO_LARGE', 1009)]);

    const rsv = recorder({ role: 'server' });
    feed(rsv.receiver, clientFrame(0xc2, Buffer.from('z')));
    expect(rsv.events).toEqual([err('WS_RSV_BITS', 1002)]);

    const unmasked = recorder({ role: 'server' });
    feed(unmasked.receiver, serverFrame(0x82, Buffer.from('z')));
    expect(unmasked.events).toEqual([err('WS_UNMASKED_FRAME', 1002)]);

    const masked = recorder({ role: 'client' });
    feed(masked.receiver, clientFrame(0x82, Buffer.from('z')));
    expect(masked.events).toEqual([err('WS_MASKED_FRAME', 1002)]);

    const huge = recorder({ role: 'client' });
    feed(huge.receiver, hex('82 7f 80 00 00 00 00 00 00 01 00'));
    expect(huge.events).toEqual([err('WS_BAD_LENGTH', 1002)]);
  });

  it('a handler that destroys the receiver stops delivery at once', () => {
    const seen: string[] = [];
    const r: Receiver = new Receiver(
      { role: 'client' },
      {
        onMessage: (d) => {
          seen.push(d.toString());
          r.destroy();
        },
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: () => {},
      },
    );
    r.push(Buffer.concat([serverFrame(0x82, bytes(0x61)), serverFrame(0x82, bytes(0x62))]));
    expect(seen).toEqual(['a']);
  });

  it('whole frames leave a receiver without input queue or message state of its own (made on first need, and still right)', () => {
    type Inside = { queue: object; msg: object };
    const inside = (r: Receiver): Inside => r as unknown as Inside;
    const a = recorder({ role: 'server' });
    const b = recorder({ role: 'server' });
    feed(a.receiver, Buffer.concat([clientFrame(0x82, Buffer.alloc(20)), clientFrame(0x81, Buffer.from('x'))]));
    expect(a.events).toHaveLength(2);
    // Idle receivers share the same empty queue and closed message.
    expect(inside(a.receiver).queue).toBe(inside(b.receiver).queue);
    expect(inside(a.receiver).msg).toBe(inside(b.receiver).msg);
    // A frame split across reads needs a queue; a fragmented text message needs a message (and UTF-8 state).
    const split = clientFrame(0x81, Buffer.from('héllo'));
    a.receiver.push(split.subarray(0, 3));
    expect(inside(a.receiver).queue).not.toBe(inside(b.receiver).queue);
    a.receiver.push(split.subarray(3));
    expect(inside(a.receiver).msg).not.toBe(inside(b.receiver).msg);
    feed(a.receiver, Buffer.concat([clientFrame(0x01, Buffer.from([0xc3])), clientFrame(0x80, Buffer.from([0xa9]))]));
    feed(b.receiver, Buffer.concat([clientFrame(0x01, Buffer.from([0xc3])), clientFrame(0x80, Buffer.from([0xc3]))]));
    expect(a.events.slice(2)).toEqual([msg('héllo'), msg('é')]);
    expect(b.events).toEqual([err('WS_INVALID_UTF8', 1007)]);
    // The shared ones were not written to: a fresh receiver still starts idle and empty.
    const c = recorder({ role: 'server' });
    expect(c.receiver.pendingBytes).toBe(0);
    expect(c.receiver.isIdle).toBe(true);
    expect(inside(c.receiver).queue).toBe(inside(b.receiver).queue); // b failed: it dropped its own
  });
});
