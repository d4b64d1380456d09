import { describe, expect, it } from 'vitest';
import { randomId } from '../src/ids';

describe('randomId', () => {
  it('16 URL-safe characters (96 bits), distinct across many draws (several pool refills)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = randomId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
  });
});
