// The workspace packages' sources by import specifier, for tools that test or bundle the tree as
// it is (vitest, the conformance app and its scenarios): `@stelar/<dir>` is packages/<dir>/src/index.ts,
// and each subpath export `./<name>` of its package.json (e.g. `@stelar/core/internal`) is
// src/<name>.ts or src/<name>/index.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));

/** @returns {[specifier: string, file: string][]} subpaths before their package, so the longest match is found first */
export function sourceAliases() {
  return readdirSync(packages)
    .filter((d) => existsSync(`${packages}${d}/src/index.ts`))
    .flatMap((d) => {
      const dir = `${packages}${d}`;
      const exports = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).exports ?? {};
      const subpaths = Object.keys(exports)
        .filter((k) => k.startsWith('./') && !k.endsWith('.json') && !k.endsWith('.js'))
        .flatMap((k) => {
          const name = k.slice(2);
          const file = [`${dir}/src/${name}.ts`, `${dir}/src/${name}/index.ts`].find((f) => existsSync(f));
          return file ? [[`@stelar/${d}/${name}`, file]] : [];
        });
      return [...subpaths, [`@stelar/${d}`, `${dir}/src/index.ts`]];
    });
}
