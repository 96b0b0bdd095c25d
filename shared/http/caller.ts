import { refusal, type HttpApiResult } from './response';

/**
 * The signed-in user behind an HTTP API request, as the JWT authorizer verified them, and the console's
 * group check. The groups are checked here, by the API, from the verified token: the page only hides what
 * the API refuses anyway.
 */

/** The user pool's groups (resources/operators.cjs): technicians vend claims; operators run the fleet. */
export const CONSOLE_GROUPS = ['technicians', 'operators'] as const;
export type ConsoleGroup = (typeof CONSOLE_GROUPS)[number];

export interface Caller {
  /** The token's subject: stable per user, what the ledger and the timeline record. */
  sub: string;
  username?: string;
  email?: string;
  groups: readonly string[];
}

/**
 * `cognito:groups` as Lambda receives it. The HTTP API's JWT authorizer passes an array claim as one
 * string, the values space-separated in brackets (`"[operators technicians]"`); a direct invocation or a
 * test may pass the array itself. A claim that is neither gives no groups (fail closed).
 */
export function groupsOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === 'string' && g.length > 0);
  if (typeof claim !== 'string') return [];
  const text = claim.trim();
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return inner.split(/[\s,]+/).filter((g) => g.length > 0);
}

/** The caller of a request the JWT authorizer verified; undefined without a subject (nobody to record). */
export function callerOf(claims: Record<string, unknown> | undefined): Caller | undefined {
  const sub = claims?.sub;
  if (typeof sub !== 'string' || !sub) return undefined;
  const username = claims?.['cognito:username'] ?? claims?.username;
  const email = claims?.email;
  return {
    sub,
    ...(typeof username === 'string' && username ? { username } : {}),
    ...(typeof email === 'string' && email ? { email } : {}),
    groups: groupsOf(claims?.['cognito:groups']),
  };
}

/** undefined when the caller is in one of `allowed`; else the 403 answer naming the groups that may. */
export function refuseUnlessInGroup(caller: Caller, allowed: readonly ConsoleGroup[]): HttpApiResult | undefined {
  if (caller.groups.some((group) => (allowed as readonly string[]).includes(group))) return undefined;
  return refusal(403, `This needs a member of ${allowed.join(' or ')}.`, 'group-not-allowed');
}
