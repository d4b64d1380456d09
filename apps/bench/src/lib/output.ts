/** Writes a run's files: results/<time>.json, results/latest.json, results/ratios.svg, README block. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { renderMarkdown, renderSvg, updateReadme } from './report';
import type { Results } from './suite';

export interface Written {
  json: string;
  latest: string;
  svg: string;
  readme: string | undefined;
}

export const README_INTRO = `# Stelar benchmarks

Side-by-side benchmarks of the Stelar server against \`ws\` (plain and with bufferutil),
\`socket.io\`, uWebSockets.js (when installed) and a raw length-prefixed \`net\` echo, on one
machine. The harness lives in \`apps/bench\`; run it from the repository root with:

\`\`\`
npm run bench
\`\`\`

Options: \`node apps/bench/dist/main.js --help\`.`;

/** Writes the chart and README block, and (unless `json` is false) the results JSON files. */
export function writeOutputs(r: Results, resultsDir: string, readmePath: string | undefined, json = true): Written {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = r.finishedAt.replace(/[:.]/g, '-');
  const file = join(resultsDir, `${stamp}.json`);
  const latest = join(resultsDir, 'latest.json');
  const svg = join(resultsDir, 'ratios.svg');
  if (json) {
    const text = `${JSON.stringify(r, null, 2)}\n`;
    writeFileSync(file, text);
    writeFileSync(latest, text);
  }
  writeFileSync(svg, renderSvg(r));
  if (readmePath) {
    mkdirSync(dirname(readmePath), { recursive: true });
    updateReadme(readmePath, renderMarkdown(r, relative(dirname(readmePath), svg)), README_INTRO);
  }
  return { json: file, latest, svg, readme: readmePath };
}
