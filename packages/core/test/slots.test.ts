import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics';
import type { ServerSession } from '../src/session';
import { HandlerSlots } from '../src/slots';

// The slots only use sessions as keys.
const session = (name: string) => ({ name }) as unknown as ServerSession;

describe('HandlerSlots (maxHandlersInFlight)', () => {
  it('a request waits when the cap is reached or others already wait; slots go first come first served', async () => {
    const m = new Metrics(() => 0);
    const slots = new HandlerSlots(m, 2);
    expect(slots.mustWait(false)).toBe(false);
    m.inFlightHandlers = 2;
    expect(slots.mustWait(false)).toBe(true);
    const order: string[] = [];
    const [a, b, c] = [session('a'), session('b'), session('c')];
    for (const s of [a, b, c]) void slots.wait(s).then((got) => order.push(`${(s as unknown as { name: string }).name}:${got}`));
    m.inFlightHandlers = 1;
    expect(slots.mustWait(false)).toBe(true); // others are in line
    slots.grant(); // one free slot: a
    await Promise.resolve();
    expect(order).toEqual(['a:true']);
    expect(slots.mustWait(true)).toBe(false); // a's granted slot is still free
    slots.taken();
    m.inFlightHandlers = 2;
    slots.grant(); // none free
    slots.leave(b); // b's connection closed: it leaves the line
    m.inFlightHandlers = 0;
    slots.grant();
    await Promise.resolve();
    expect(order).toEqual(['a:true', 'b:false', 'c:true']);
    slots.leave(c); // not waiting any more: nothing
  });

  it('clear: everyone in line gets false (the hub is disposed)', async () => {
    const m = new Metrics(() => 0);
    m.inFlightHandlers = 1;
    const slots = new HandlerSlots(m, 1);
    const got = slots.wait(session('x'));
    slots.clear();
    await expect(got).resolves.toBe(false);
  });
});
