import { useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import { ErrorNote } from '../ui';

/**
 * Bulk import of a factory CSV (the same rows as `devices import`): sent in chunks of rows, each with the
 * header, so the progress bar shows real progress and a large file never meets the API's size limit.
 * The server checks each row; invalid ones come back with their line numbers and nothing of them is written.
 */

const ROWS_PER_REQUEST = 500;

/** POST /devices/import's answer (the same summary as `devices import`). */
interface ImportAnswer {
  complete: boolean;
  imported: number;
  updated: number;
  unchanged: number;
  invalid: Array<{ line: number; message: string }>;
  failed: string[];
  stayBlocked: string[];
}

export function ImportPage({ api }: { api: Api }) {
  const [progress, setProgress] = useState<{ done: number; total: number }>();
  const [report, setReport] = useState<{ imported: number; updated: number; unchanged: number; invalid: ImportAnswer['invalid']; failed: string[] }>();
  const [error, setError] = useState<string>();

  const upload = async (event: Event) => {
    event.preventDefault();
    const file = (event.target as HTMLFormElement).querySelector<HTMLInputElement>('input[type=file]')!.files?.[0];
    if (!file) return;
    setError(undefined);
    setReport(undefined);
    const lines = (await file.text()).split(/\r?\n/);
    const [header, ...rows] = lines;
    const total = rows.filter((r) => r.trim()).length;
    const summary = { imported: 0, updated: 0, unchanged: 0, invalid: [] as ImportAnswer['invalid'], failed: [] as string[] };
    setProgress({ done: 0, total });
    try {
      for (let start = 0; start < rows.length; start += ROWS_PER_REQUEST) {
        const chunk = rows.slice(start, start + ROWS_PER_REQUEST);
        if (!chunk.some((r) => r.trim())) continue;
        const answer = await api.post<ImportAnswer>('/devices/import', [header, ...chunk].join('\n'), 'text/csv');
        summary.imported += answer.imported;
        summary.updated += answer.updated;
        summary.unchanged += answer.unchanged;
        summary.failed.push(...answer.failed);
        // The server numbers lines within the chunk (the header is line 1): back to the file's numbers.
        summary.invalid.push(...answer.invalid.map((i) => ({ ...i, line: i.line + start })));
        setProgress({ done: Math.min(total, start + chunk.filter((r) => r.trim()).length), total });
      }
      setReport(summary);
    } catch (e) {
      setError(e instanceof ApiError ? `${e.message}${e.reason ? ` (${e.reason})` : ''}` : (e as Error).message);
    }
  };

  return (
    <section>
      <h2>Import devices</h2>
      <p>
        A CSV with a header: <code>deviceId</code>, and optionally <code>thingGroup</code>, <code>thingType</code>, <code>attr.&lt;name&gt;</code>,{' '}
        <code>publicKey</code> (a PEM, or its SHA-256 fingerprint) to pin the factory key.
      </p>
      <form onSubmit={upload}>
        <input type="file" name="file" accept=".csv,text/csv" required />
        <button type="submit">Import</button>
      </form>
      {progress && <progress id="import-progress" value={progress.done} max={progress.total} />}
      {error && <ErrorNote message={error} />}
      {report && (
        <article id="import-report">
          <p>
            <strong>{report.imported}</strong> imported, <strong>{report.updated}</strong> updated, <strong>{report.unchanged}</strong> unchanged,{' '}
            <strong>{report.invalid.length}</strong> invalid{report.failed.length ? `, ${report.failed.length} not written (run the import again)` : ''}
          </p>
          {report.invalid.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th>line</th>
                  <th>what is wrong</th>
                </tr>
              </thead>
              <tbody>
                {report.invalid.map((i) => (
                  <tr>
                    <td>{i.line}</td>
                    <td>{i.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </article>
      )}
    </section>
  );
}
