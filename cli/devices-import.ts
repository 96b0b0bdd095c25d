import { readFileSync } from 'node:fs';
import { importRows, summaryLines } from '../shared/registry/import-devices';
import { formatOf, ImportFileError, readImportRows, type ImportFormat } from '../shared/registry/import-rows';
import { createDocumentClient } from '../shared/aws/clients';
import { CliError, useTarget, type TargetOptions } from './target';

/**
 * `devices import <file> [--format csv|ndjson]`: reads and checks the whole file (shared/registry/import-rows.ts), then
 * imports the valid rows (shared/registry/import-devices.ts) with progress on stderr and the summary on stdout.
 */

/** Progress on stderr: a bar redrawn in place on a terminal, else a line every 10 % (logs stay readable). */
export function progressReporter(stream: { isTTY?: boolean; write(text: string): unknown }, label: string): (done: number, total: number) => void {
  let lastTenth = -1;
  return (done, total) => {
    const fraction = total === 0 ? 1 : done / total;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth > lastTenth) {
      lastTenth = tenth;
      stream.write(`${label}: ${done}/${total} rows (${Math.floor(fraction * 100)} %)\n`);
    }
  };
}

export interface DevicesImportOptions extends TargetOptions {
  format?: string;
}

/** The command: exit 0 when every row is in the registry, 1 when some row is invalid or failed. */
export async function devicesImportCommand(
  file: string | undefined,
  options: DevicesImportOptions,
  out: (line: string) => void,
  progress: { isTTY?: boolean; write(text: string): unknown } = process.stderr,
): Promise<number> {
  if (!file) throw new CliError('usage: devices import <file> [--format csv|ndjson]');
  if (options.format !== undefined && options.format !== 'csv' && options.format !== 'ndjson') throw new CliError('--format must be csv or ndjson');
  const format: ImportFormat | undefined = (options.format as ImportFormat | undefined) ?? formatOf(file);
  if (!format) throw new CliError(`cannot tell the format of ${file} from its name: pass --format csv|ndjson`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let checked;
  try {
    checked = readImportRows(text, format);
  } catch (error) {
    if (error instanceof ImportFileError) throw new CliError(`${file}: ${error.message}`);
    throw error;
  }
  const target = await useTarget(options);
  const table = { client: createDocumentClient(), tableName: target.registryTable };
  out(`importing ${checked.rows.length} devices from ${file} into ${target.registryTable} (${target.description})`);
  let summary;
  try {
    summary = await importRows(table, checked.rows, { onProgress: progressReporter(progress, 'import') });
  } catch (error) {
    // Each batch is written whole or left for the re-run: what is written stays, and counts as unchanged then.
    throw new CliError(`import stopped: ${(error as Error).name}: ${(error as Error).message}. The rows written so far stay; run the same command again to import the rest.`, {
      exitCode: 1,
      cause: error,
    });
  }
  for (const line of summaryLines(summary, checked.invalid)) out(line);
  return checked.invalid.length || summary.failed.length ? 1 : 0;
}
