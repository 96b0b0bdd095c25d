/**
 * A port made of exactly the calls a function makes, each bound to what they act on (a client, a table):
 *
 *   const registry = bindCalls(table, { get: getDevice, claim: claimDevice });
 *
 * A class's methods are never tree-shaken, so one adapter class put all its SDK commands in every bundle that
 * used it. Built from the functions a handler imports, the port brings only their commands into that
 * handler's bundle, and the handler's import list says which AWS calls the function makes (its role, in
 * `functions/<name>/resources.cjs`, grants those; test/security/role-coverage.test.ts checks it).
 */

type Call<Target> = (target: Target, ...args: never[]) => unknown;

export type Bound<Target, Calls extends Record<string, Call<Target>>> = {
  [Name in keyof Calls]: Calls[Name] extends (target: Target, ...args: infer Args) => infer Result ? (...args: Args) => Result : never;
};

export function bindCalls<Target, Calls extends Record<string, Call<Target>>>(target: Target, calls: Calls): Bound<Target, Calls> {
  const port: Record<string, (...args: never[]) => unknown> = {};
  for (const [name, call] of Object.entries(calls)) port[name] = (...args) => call(target, ...args);
  return port as Bound<Target, Calls>;
}
