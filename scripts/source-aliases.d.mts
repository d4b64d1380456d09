/** The workspace packages' sources by import specifier (subpath exports included), longest first per package. */
export function sourceAliases(): [specifier: string, file: string][];
