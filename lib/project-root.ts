import { resolve } from 'node:path';

/** The repository's root: serverless.yml, events/ and .local/ are found from here. */
export const PROJECT_ROOT = resolve(__dirname, '..');
