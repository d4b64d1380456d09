// Types of scripts/size.mjs, for test/size.test.ts.
export declare const README: string;
export declare const TARGET: number;
export declare const LIMIT: number;
export declare function measure(): Promise<{ min: number; gz: number; parts: [string, number][]; block: string }>;
export declare function withBlock(readme: string, block: string): string;
