// Types of scripts/size.mjs, for test/size.test.ts.
export declare const README: string;
export declare const TARGET: number;
export declare const LIMIT: number;
export declare const FULL_LIMIT: number;
export declare function measure(): Promise<{
  min: number;
  gz: number;
  full: number;
  fullGz: number;
  costs: [string, number][];
  parts: [string, number][];
  block: string;
  text: { min: string; full: string };
}>;
export declare function withBlock(readme: string, block: string): string;
