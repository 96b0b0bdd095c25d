import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Real-shaped sample events from events/, the same files `serverless invoke local` uses; a fresh copy per call. */
export function loadEvent<T = Record<string, unknown>>(name: string): T {
  return structuredClone(JSON.parse(readFileSync(resolve(__dirname, '../../events', `${name}.json`), 'utf8')) as T);
}
