import fc from 'fast-check';
import { scaled } from '../support/scale';

/**
 * What the fuzz suites share: how many inputs each property gets, generators of near-valid variants of a
 * valid event (each variant knows, by construction, whether it is still valid — the schema under test is
 * not its own oracle) and of junk.
 */

/** Inputs per handler property: fast in `npm test`, ≥ 10,000 with SUITES=long. */
export const RUNS = scaled(2_000, 12_000);
/** Per property: the long variant runs for minutes on two shared cores. */
export const TIMEOUT_MS = scaled(60_000, 900_000);

/**
 * The first counterexample is reported as generated, unshrunk: its list of mutations says what was done to the
 * valid event. `FUZZ_SEED=<seed from the report>` replays the run.
 */
export const fcParameters = (numRuns: number = RUNS): fc.Parameters<unknown> => ({
  numRuns,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  endOnFailure: true,
});

/** A generated input and whether, by construction, the handler's contract calls it valid. */
export interface Variant {
  value: unknown;
  valid: boolean;
  /** What was done to the valid event, for the failure report. */
  mutations: string[];
}

/** One field of an event: where it is, whether it is required, and values that keep or break validity. */
export interface FieldRule {
  path: readonly string[];
  required: boolean;
  /** Other values the contract accepts (omit when only the original is valid). */
  valid?: fc.Arbitrary<unknown>;
  /** Values the contract refuses (omit when it accepts any). */
  invalid?: fc.Arbitrary<unknown>;
}

/** `apply` answers whether it changed anything (a field under a removed parent is not there to change). */
type Mutation = { describe: string; path: readonly string[]; keepsValid: boolean; apply: (target: Record<string, unknown>) => boolean };

function parentOf(target: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = target;
  for (const key of path.slice(0, -1)) {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node && typeof node === 'object' && !Array.isArray(node) ? (node as Record<string, unknown>) : undefined;
}

const set = (path: readonly string[], value: unknown) => (target: Record<string, unknown>) => {
  const parent = parentOf(target, path);
  if (!parent) return false;
  // Defined like JSON.parse defines keys: an own property even for "__proto__".
  Object.defineProperty(parent, path.at(-1)!, { value: structuredClone(value), enumerable: true, writable: true, configurable: true });
  return true;
};
const remove = (path: readonly string[]) => (target: Record<string, unknown>) => {
  const parent = parentOf(target, path);
  if (!parent) return false;
  delete parent[path.at(-1)!];
  return true;
};

/** Keys that trip naive code: prototype names, empty, very long, non-ASCII. */
export const awkwardKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'then'),
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
);

/** JSON values only: Lambda hands every handler a parsed JSON document. */
export const jsonJunk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, '', '{}', '[]', 'null', 'undefined', 'NaN'),
  fc.dictionary(awkwardKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }).map((o) => JSON.parse(JSON.stringify(o)) as unknown),
);

/** Strings a pattern-checked field must refuse, besides values of the wrong type. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, 42, -1, 1.5, [], {}, ['x'], { a: 1 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
);

/**
 * Near-valid variants of `base`: up to `maxMutations` mutations of the fields in `rules` (a valid or
 * invalid replacement, a deletion), unknown keys added where the envelope tolerates them, or the whole
 * event replaced by something that is not an object.
 */
export function nearValid(
  base: unknown,
  rules: readonly FieldRule[],
  options: { maxMutations?: number; looseAt?: ReadonlyArray<readonly string[]>; strictAt?: ReadonlyArray<readonly string[]> } = {},
): fc.Arbitrary<Variant> {
  const looseAt = options.looseAt ?? [[]];
  const strictAt = options.strictAt ?? [];
  const fieldMutation = (rule: FieldRule): fc.Arbitrary<Mutation> => {
    const name = rule.path.join('.');
    const choices: Array<fc.Arbitrary<Mutation>> = [fc.constant({ describe: `${name} removed`, path: rule.path, keepsValid: !rule.required, apply: remove(rule.path) })];
    if (rule.invalid) {
      choices.push(rule.invalid.map((value) => ({ describe: `${name} = ${show(value)}`, path: rule.path, keepsValid: false, apply: set(rule.path, value) })));
    }
    if (rule.valid) {
      choices.push(rule.valid.map((value) => ({ describe: `${name} = ${show(value)} (valid)`, path: rule.path, keepsValid: true, apply: set(rule.path, value) })));
    }
    return fc.oneof(...choices);
  };
  const extraKey = (at: readonly string[], keepsValid: boolean): fc.Arbitrary<Mutation> =>
    fc.tuple(awkwardKey, fc.jsonValue({ maxDepth: 2 })).map(([key, value]) => ({
      describe: `${[...at, key].join('.')} added`,
      path: [...at, `+${key}`],
      keepsValid,
      apply: (target: Record<string, unknown>) => {
        const node = at.length ? parentOf(target, [...at, '_']) : target;
        // An unknown key equal to a known one would not be unknown; skip it. zod drops an own "__proto__"
        // key before any check (strict or not), so it never reaches the handler's code: not a strictness case.
        if (!keepsValid && key === '__proto__') return false;
        return !!node && !Object.prototype.hasOwnProperty.call(node, key) && set([...at, key], value)(target);
      },
    }));
  const mutation = fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...rules.map(fieldMutation)) },
    ...(looseAt.length ? [{ weight: 1, arbitrary: fc.oneof(...looseAt.map((at) => extraKey(at, true))) }] : []),
    ...(strictAt.length ? [{ weight: 1, arbitrary: fc.oneof(...strictAt.map((at) => extraKey(at, false))) }] : []),
  );
  const mutated = fc.array(mutation, { minLength: 0, maxLength: options.maxMutations ?? 3 }).map((mutations): Variant => {
    const value = structuredClone(base) as Record<string, unknown>;
    // Validity is what the last change of each field left: a later change of a field, or of its parent,
    // overrides an earlier one.
    const state = new Map<string, boolean>();
    const applied: string[] = [];
    for (const m of mutations) {
      const key = m.path.join('\u0000');
      // A field under a replaced or removed parent is left alone: the parent's change decides.
      if ([...state.keys()].some((other) => key.startsWith(`${other}\u0000`))) continue;
      if (!m.apply(value)) continue;
      for (const other of [...state.keys()]) if (other.startsWith(`${key}\u0000`)) state.delete(other);
      state.set(key, m.keepsValid);
      applied.push(m.describe);
    }
    return { value, valid: [...state.values()].every(Boolean), mutations: applied };
  });
  const notAnObject = fc
    .oneof(fc.constantFrom(null, 0, '', 'event', true), fc.array(fc.constant(base), { minLength: 1, maxLength: 2 }), fc.constant(JSON.stringify(base)))
    .map((value): Variant => ({ value, valid: false, mutations: ['not an object'] }));
  return fc.oneof({ weight: 12, arbitrary: mutated }, { weight: 1, arbitrary: notAnObject });
}

/** Junk: anything JSON, valid by no contract. */
export const junk: fc.Arbitrary<Variant> = jsonJunk.map((value) => ({ value, valid: false, mutations: ['junk'] }));

/** Near-valid variants (most) and junk, for one handler. */
export const inputs = (variants: fc.Arbitrary<Variant>): fc.Arbitrary<Variant> =>
  fc.oneof({ weight: 4, arbitrary: variants }, { weight: 1, arbitrary: junk });

export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Runs the handler on a fuzz input; a throw fails the property, naming the error and the input. */
export async function invokeUnthrown<T>(handler: (event: unknown) => Promise<T>, input: Variant): Promise<T> {
  try {
    return await handler(input.value);
  } catch (error) {
    throw new Error(`threw ${(error as Error).name}: ${(error as Error).message} for ${show(input.value)} (${input.mutations.join('; ')})`);
  }
}

const HEX = '0123456789abcdef';
/** A 64-hex id as AWS IoT writes certificate ids. */
export const hex64 = fc.array(fc.constantFrom(...HEX), { minLength: 64, maxLength: 64 }).map((chars) => chars.join(''));
/** Ids the certificate-id pattern refuses. */
export const notHex64 = fc.oneof(
  fc.array(fc.constantFrom(...HEX), { minLength: 0, maxLength: 63 }).map((c) => c.join('')),
  fc.array(fc.constantFrom(...HEX), { minLength: 65, maxLength: 70 }).map((c) => c.join('')),
  hex64.chain((id) => fc.tuple(fc.nat(63), fc.constantFrom('g', 'z', ' ', '-', '\n', 'é', '0x')).map(([i, c]) => id.slice(0, i) + c + id.slice(i + 1))),
  hex64.map((id) => ` ${id}`),
  hex64.map((id) => `${id}\n`),
);
/** Thing names (device ids): 1-128 of [a-zA-Z0-9:_-]. */
export const deviceId = fc.stringMatching(/^[a-zA-Z0-9:_-]{1,40}$/);
/** Strings the thing-name pattern refuses. */
export const notDeviceId = fc.oneof(
  fc.constantFrom('', ' ', 'a b', 'dev/1', 'dev.1', '../etc', 'x'.repeat(129), 'é', 'a\n', '${iot:ClientId}', '#', '+', '*'),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[a-zA-Z0-9:_-]{1,128}$/.test(s)),
);
