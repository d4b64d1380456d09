// Types of scripts/bundle.mjs, for the tests.
export declare function bundle(
  outfile?: string,
  options?: { write?: boolean; entry?: string; features?: string[] },
): Promise<{ bytes: Uint8Array; esbuilt: Uint8Array; metafile: { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> } }>;
/** The declaration file of a <script> file (`file`, default stelar.min.js), importing the package's types from `./${index}`. */
export declare function types(index: string, file?: string): string;
/** The package's exports the <script> global leaves out (bundlers only). */
export declare const BUNDLER_ONLY: string[];
/** The switches of src/features.ts. */
export declare const FEATURES: string[];
/** The two <script> files and the features each has. */
export declare const FILES: { min: { file: string; features: string[] }; full: { file: string; features: string[] } };
