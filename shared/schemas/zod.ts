import { config } from 'zod/mini';
import { en } from 'zod/locales';

/**
 * Schemas use `zod/mini` (tree-shakable) and import this module once for English messages. The classic
 * `zod` entry pulls every locale and the JSON-schema tooling into each handler bundle (~450 KB).
 * Import it for its side effect: `import './zod';` next to `import * as z from 'zod/mini'`.
 */
config(en());
