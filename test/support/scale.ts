/**
 * Sizes of the reliability, fuzz and security suites. `npm test` runs the fast variant; the bench runs the
 * same suites with `SUITES=long` (e.g. `SUITES=long npx jest test/fuzz`) for the long variant.
 */
export const longSuites = process.env.SUITES === 'long';

/** `fast` in `npm test`, `long` with SUITES=long. */
export function scaled(fast: number, long: number): number {
  return longSuites ? long : fast;
}
