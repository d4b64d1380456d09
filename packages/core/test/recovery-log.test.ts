import { decodeFrame, encodeJson, readOffset, ZERO_OFFSET } from '@stelar/codec-tcp';
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD } from '../src/log-window';
import { addressedIn, MemoryRecoveryLog, OutFrame, RECOVERY_DEFAULTS, recoverySettings } from '../src/recovery-log';

const target = (rooms: string[] = [], exceptRooms: string[] = [], exceptIds: string[] = [], flags: { volatile?: boolean; local?: boolean } = {}) => ({
  rooms,
  exceptRooms,
  exceptIds,
  volatile: flags.volatile ?? false,
  local: flags.local ?? false,
});
const frame = (n: number) => encodeJson('e', 'x'.repeat(n));
/** The offset in front of a stamped frame's payload. */
const offsetIn = (stamped: Uint8Array) => readOffset(decodeFrame(stamped).payload);

describe('recovery-log', () => {
  it('recoverySettings: off, defaults, overrides; a bad number is refused by name', () => {
    expect(recoverySettings(undefined)).toBeUndefined();
    expect(recoverySettings(false)).toBeUndefined();
    expect(recoverySettings(true)).toEqual(RECOVERY_DEFAULTS);
    expect(recoverySettings({ maxMessages: 5 })!.maxMessages).toBe(5);
    expect(() => recoverySettings({ maxBytes: -1 })).toThrow(/recovery\.maxBytes/);
    expect(() => recoverySettings({ maxSessions: Number.NaN })).toThrow(RangeError);
  });

  it('logs nothing while no session can recover, nor volatile or local broadcasts', () => {
    const log = new MemoryRecoveryLog(RECOVERY_DEFAULTS);
    expect(log.append(frame(1), target(), 0)).toBeUndefined();
    log.sessions = 1;
    expect(log.append(frame(1), target([], [], [], { volatile: true }), 0)).toBeUndefined();
    expect(log.append(frame(1), target([], [], [], { local: true }), 0)).toBeUndefined();
    expect([log.entries, log.last]).toEqual([0, 0]);
  });

  it('numbers entries 1, 2, 3 with their offsets in front; entriesAfter and seqOf plan a replay', () => {
    const log = new MemoryRecoveryLog(RECOVERY_DEFAULTS);
    log.sessions = 1;
    const e = [1, 2, 3].map((n) => log.append(frame(n), target(['r']), 0)!);
    expect(e.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(offsetIn(e[1]!.stamped)).toEqual({ hi: 0, lo: 2 }); // the offset leads the payload
    expect([...log.entriesAfter(1)].map((x) => x.seq)).toEqual([2, 3]);
    expect([...log.entriesAfter(3)]).toEqual([]);
    expect(log.seqOf({ hi: 0, lo: 2 })).toBe(2);
    expect(log.seqOf({ hi: 0, lo: 99 })).toBe(3); // never past the last
    expect(log.bytes).toBe(e.reduce((n, x) => n + x.stamped.length + ENTRY_OVERHEAD, 0));
  });

  it('trims by age (maxDisconnection) and by the byte budget; trimmed says up to where', () => {
    const settings = { ...RECOVERY_DEFAULTS, maxDisconnection: 1000 };
    let budget = 1_000_000;
    const log = new MemoryRecoveryLog(settings, () => budget);
    log.sessions = 1;
    log.append(frame(1), target(), 0);
    log.append(frame(1), target(), 500);
    log.append(frame(1), target(), 1500); // the first is now too old
    expect([log.trimmed, log.entries]).toEqual([1, 2]);
    log.trim(1600, 0); // no budget left: everything goes
    expect([log.trimmed, log.entries, log.bytes]).toEqual([3, 0, 0]);
    budget = 0;
    log.append(frame(1), target(), 1700); // over the budget at once
    expect([log.last, log.trimmed, log.entries]).toEqual([4, 4, 0]);
    budget = 1_000_000;
    log.append(frame(1), target(), 1700);
    log.clear();
    expect([log.trimmed, log.entries, [...log.entriesAfter(0)]]).toEqual([5, 0, []]);
  });

  it('OutFrame: the logged variant, or one with a zero offset made once', () => {
    const f = frame(2);
    const plain = new OutFrame(f, undefined);
    const z = plain.stamped();
    expect(z).toBe(plain.stamped());
    expect(offsetIn(z)).toEqual(ZERO_OFFSET);
    const log = new MemoryRecoveryLog(RECOVERY_DEFAULTS);
    log.sessions = 1;
    const entry = log.append(f, target(), 0)!;
    expect(new OutFrame(f, entry).stamped()).toBe(entry.stamped);
  });

  it('addressedIn matches as MemoryAdapter does: rooms or the id, except rooms and ids', () => {
    const rooms = new Set(['a']);
    expect(addressedIn('me', rooms, target())).toBe(true);
    expect(addressedIn('me', rooms, target(['a']))).toBe(true);
    expect(addressedIn('me', rooms, target(['me']))).toBe(true);
    expect(addressedIn('me', rooms, target(['b']))).toBe(false);
    expect(addressedIn('me', rooms, target([], ['a']))).toBe(false);
    expect(addressedIn('me', rooms, target([], ['me']))).toBe(false);
    expect(addressedIn('me', rooms, target(['a'], [], ['me']))).toBe(false);
  });
});
