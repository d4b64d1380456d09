// Types of scripts/bundle.mjs, for the tests.
export declare function bundle(
  outfile?: string,
  options?: { write?: boolean; entry?: string },
): Promise<{ bytes: Uint8Array | undefined; metafile: { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> } }>;
/** The declaration file of the bundle, importing the package's types from `./${index}`. */
export declare function types(index: string): string;
