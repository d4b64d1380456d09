/** The whole catalogue, in category order. */
import { BASIC_CASES } from './cases-basic';
import { DEFLATE_CASES } from './cases-deflate';
import { PERF_CASES } from './cases-perf';
import { UTF8_CLOSE_CASES } from './cases-utf8-close';
import type { Case } from './model';

export const CATALOGUE: readonly Case[] = [...BASIC_CASES, ...UTF8_CLOSE_CASES, ...PERF_CASES, ...DEFLATE_CASES];

const seen = new Set<string>();
for (const c of CATALOGUE) {
  if (seen.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
  seen.add(c.id);
}
