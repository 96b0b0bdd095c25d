import { randomBytes } from 'node:crypto';
import { createDocumentClient } from '../shared/aws/clients';
import { importRows } from '../shared/registry/import-devices';
import { readImportRows } from '../shared/registry/import-rows';
import { startStackHarness } from '../local/stack-harness';

/**
 * `devices import` at factory scale: a CSV of N rows (default 50,000; every row with a thing group, two
 * attributes and a pinned key fingerprint) into the stack's registry table on local DynamoDB (dynalite),
 * then the same file again (every row unchanged). Rows/s for checking the file, for the first import and for
 * the re-run. Run alone: `npx tsx bench/import.ts --rows=50000`, or `npx tsx bench/run.ts --only=import`.
 */

export interface ImportBenchResult {
  rows: number;
  parseSeconds: number;
  importSeconds: number;
  rerunSeconds: number;
  imported: number;
  unchanged: number;
  retries: number;
  rowsPerSecond: number;
  rerunRowsPerSecond: number;
}

export function factoryCsv(rows: number): string {
  const lines = ['deviceId,thingGroup,attr.model,attr.batch,publicKeySha256'];
  for (let i = 0; i < rows; i++) lines.push(`FACTORY-${String(i).padStart(6, '0')},factory,m1,b${i % 50},${randomBytes(32).toString('hex')}`);
  return lines.join('\n');
}

export async function measureImport(options: { rows: number; onProgress?: (line: string) => void }): Promise<ImportBenchResult> {
  const progress = options.onProgress ?? (() => {});
  const csv = factoryCsv(options.rows);
  const stack = await startStackHarness({ core: { traffic: { throttling: false } } });
  const client = createDocumentClient();
  try {
    const table = { client, tableName: stack.deployed.tableName };
    let started = performance.now();
    const { rows, invalid } = readImportRows(csv, 'csv');
    const parseSeconds = (performance.now() - started) / 1000;
    if (invalid.length) throw new Error(`bench file has invalid rows: ${JSON.stringify(invalid.slice(0, 3))}`);
    let tenth = -1;
    const onProgress = (done: number, total: number) => {
      const t = Math.floor((done / total) * 10);
      if (t > tenth) progress(`import: ${done}/${total}`);
      tenth = t;
    };
    started = performance.now();
    const first = await importRows(table, rows, { onProgress });
    const importSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const second = await importRows(table, rows);
    const rerunSeconds = (performance.now() - started) / 1000;
    return {
      rows: rows.length,
      parseSeconds,
      importSeconds,
      rerunSeconds,
      imported: first.imported.length,
      unchanged: second.unchanged.length,
      retries: first.retries + second.retries,
      rowsPerSecond: rows.length / importSeconds,
      rerunRowsPerSecond: rows.length / rerunSeconds,
    };
  } finally {
    client.destroy();
    await stack.close();
  }
}

export function importMarkdown(r: ImportBenchResult): string {
  return [
    '| rows | checking the file | first import | rows/s | re-run (all unchanged) | rows/s | imported | unchanged on re-run | unprocessed-item retries |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${r.rows} | ${r.parseSeconds.toFixed(1)} s | ${r.importSeconds.toFixed(1)} s | ${r.rowsPerSecond.toFixed(0)} | ${r.rerunSeconds.toFixed(1)} s | ${r.rerunRowsPerSecond.toFixed(0)} | ${r.imported} | ${r.unchanged} | ${r.retries} |`,
  ].join('\n');
}

if (require.main === module) {
  const rows = Number(process.argv.find((a) => a.startsWith('--rows='))?.split('=')[1] ?? 50_000);
  measureImport({ rows, onProgress: console.log }).then(
    (r) => {
      console.log(importMarkdown(r));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
