// Types of scripts/bundle.mjs, for the tests.
export declare function bundle(
  outfile?: string,
  options?: { write?: boolean; entry?: string },
): Promise<{ bytes: Uint8Array; esbuilt: Uint8Array; metafile: { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> } }>;
/** The declaration file of the bundle, importing the package's types from `./${index}`. */
export declare function types(index: string): string;
/** The package's exports the <script> global leaves out (bundlers only). */
export declare const BUNDLER_ONLY: string[];
