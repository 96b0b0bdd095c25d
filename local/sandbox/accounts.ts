import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import type { AccountStack } from '../stack-harness';
import type { LocalIotCore } from '../local-iot-core';
import type { SandboxRow } from './row';
import { connectJitr } from './simulator';

/**
 * Seed 000's headline: one CA registered SNI_ONLY (multi-account mode) in accounts A and B, each account
 * with its own deployment of the stack (rule, handler, registry, policy). A device reaches an account by
 * naming that account's endpoint in SNI; the account's own handler decides with the account's own registry.
 * - allowed in A, at A's endpoint: activated by A's handler;
 * - allowed in B, at B's endpoint: activated by B's handler;
 * - allowed in A only, at B's endpoint: B registers its certificate (in B), B's handler revokes it (not on
 *   B's allow-list); in A its certificate and thing stay as they were, and it still gets in at A.
 * AWS: "A CA certificate can be registered in SNI_ONLY mode by multiple accounts in a Region" — each account
 * registers it itself (https://docs.aws.amazon.com/iot/latest/developerguide/manage-your-CA-certs.html).
 */

/** Accounts A and B of `npm start`: A is the local IoT Core's default account (the other flows run in it). */
export const SANDBOX_ACCOUNTS = ['123456789012', '210987654321'] as const;

export interface AccountsContext {
  core: LocalIotCore;
  /** The two accounts, A first. */
  a: AccountStack;
  b: AccountStack;
  log: (line: string) => void;
}

interface AccountCase {
  label: string;
  deviceId: string;
  allowedIn: Array<'A' | 'B'>;
  /** The accounts whose endpoint it connects to, in order. */
  connectsTo: Array<'A' | 'B'>;
}

const CASES: AccountCase[] = [
  { label: 'allowed in A, at A’s endpoint', deviceId: 'ACCOUNT-A-0001', allowedIn: ['A'], connectsTo: ['A'] },
  { label: 'allowed in B, at B’s endpoint', deviceId: 'ACCOUNT-B-0001', allowedIn: ['B'], connectsTo: ['B'] },
  { label: 'allowed in A only, at B’s endpoint', deviceId: 'ACCOUNT-A-0002', allowedIn: ['A'], connectsTo: ['A', 'B'] },
];

/** What the named account's activateCertificate handler decided for a certificate (core.results), if it ran there. */
export function decisionIn(core: LocalIotCore, accountId: string, certificateId: string): { outcome?: string; reason?: string } | undefined {
  const entry = core.results.find((r) => {
    const event = r.event as { certificateId?: string; awsAccountId?: string };
    return r.functionName.endsWith('-activateCertificate') && event.certificateId === certificateId && event.awsAccountId === accountId;
  });
  return entry?.result as { outcome?: string; reason?: string } | undefined;
}

export async function runAccountFlows(ctx: AccountsContext): Promise<SandboxRow[]> {
  const { core, a, b } = ctx;
  const stacks = { A: a, B: b };
  const ca = await createCa({ commonName: 'MultiAccountRootCA' });
  await a.registerCa(ca);
  await b.registerCa(ca);
  ctx.log(`accounts: CA ${ca.certificateId.slice(0, 8)}… registered SNI_ONLY in A (${a.accountId}, ${a.dataEndpoint}) and B (${b.accountId}, ${b.dataEndpoint})`);
  const devices: Array<{ spec: AccountCase; certificate: KeyedCertificate }> = [];
  for (const spec of CASES) {
    for (const name of spec.allowedIn) await stacks[name].registry.allow(spec.deviceId, {}, new Date());
    devices.push({ spec, certificate: await issueCertificate(ca, { subject: { serialNumber: spec.deviceId } }) });
  }
  const rows: SandboxRow[] = [];
  for (const { spec, certificate } of devices) {
    for (const name of spec.connectsTo) {
      const stack = stacks[name];
      // Three attempts: registered (pending), decided by the account's handler, in (or refused again).
      const mqtt = await connectJitr({ endpoint: stack.endpoint!, core }, certificate, ca, spec.deviceId, 3);
      const decision = decisionIn(core, stack.accountId, certificate.certificateId);
      const state = await stack.describe(certificate.certificateId);
      const outcome = decision?.outcome === 'rejected' ? 'revoked' : (decision?.outcome ?? 'pending');
      const expected = spec.allowedIn.includes(name) ? 'activated' : 'revoked';
      rows.push({
        flow: 'accounts',
        device: name === spec.connectsTo.at(-1) ? spec.label : `${spec.label.replace(/, at .*/, '')}, at ${name}’s endpoint first`,
        deviceId: spec.deviceId,
        outcome: `${outcome} in ${name}`,
        reason: decision?.outcome === 'rejected' ? String(decision.reason) : decision ? 'admitted' : '—',
        certificateStatus: `${name}: ${state.status ?? 'not registered'}`,
        thing: state.things.join(', ') || '—',
        mqtt: mqtt.connected ? `in after ${mqtt.attempts} attempts${mqtt.published ? ', published' : ''}` : 'refused',
        asExpected: outcome === expected && mqtt.connected === (expected === 'activated'),
      });
    }
    if (spec.connectsTo.length > 1) rows.push(await untouchedInA(ctx, spec, certificate, ca));
  }
  return rows;
}

/** After B refused it, the device is as it was in A: certificate ACTIVE, its thing, and it connects to A at once. */
async function untouchedInA(ctx: AccountsContext, spec: AccountCase, certificate: KeyedCertificate, ca: KeyedCertificate): Promise<SandboxRow> {
  const state = await ctx.a.describe(certificate.certificateId);
  const mqtt = await connectJitr({ endpoint: ctx.a.endpoint!, core: ctx.core }, certificate, ca, spec.deviceId, 1);
  const untouched = state.status === 'ACTIVE' && state.things.includes(spec.deviceId) && mqtt.connected;
  return {
    flow: 'accounts',
    device: 'refused in B, back at A’s endpoint',
    deviceId: spec.deviceId,
    outcome: untouched ? 'A untouched' : 'A changed',
    reason: 'B revoked only B’s copy',
    certificateStatus: `A: ${state.status ?? 'not registered'}`,
    thing: state.things.join(', ') || '—',
    mqtt: mqtt.connected ? `in at once${mqtt.published ? ', published' : ''}` : 'refused',
    asExpected: untouched,
  };
}
