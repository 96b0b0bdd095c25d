import { issueCertificate, type KeyedCertificate } from '../../lib/pki';
import type { DeviceRegistryAdmin } from '../../shared/registry/ports';
import type { ExpiryFinding } from '../../shared/expiry/ports';
import type { DeployedStack } from '../deploy-stack';
import type { LocalIotCore } from '../local-iot-core';
import { scheduledEvent } from '../schedules';
import type { SandboxRow } from './row';
import { connectJitr, type Endpoint } from './simulator';
import namesModule = require('../../resources/names.cjs');

/**
 * The sandbox's expiry case (issue 11 §3): a device provisioned by JITR with a certificate that expires in
 * 10 days, then the daily sweep — sent the event its EventBridge schedule sends, instead of waiting its
 * scaled day — publishing one finding for it, and none for the sandbox's other devices, on the findings topic.
 */

export interface ExpiryContext {
  core: LocalIotCore;
  deployed: DeployedStack;
  registry: Pick<DeviceRegistryAdmin, 'allow'>;
  endpoint: Endpoint;
  ca: KeyedCertificate;
  log: (line: string) => void;
  describe: (certificateId: string | undefined) => Promise<{ status: string; thing: string }>;
}

const DAY_MS = 86_400_000;

export async function runExpiryFlows(ctx: ExpiryContext): Promise<SandboxRow[]> {
  const { core, deployed, log } = ctx;
  const deviceId = 'EXPIRY-0001';
  await ctx.registry.allow(deviceId, {}, new Date());
  const certificate = await issueCertificate(ctx.ca, { subject: { serialNumber: deviceId }, notAfter: new Date(Date.now() + 10 * DAY_MS) });
  const mqtt = await connectJitr(ctx, certificate, ctx.ca, deviceId, 3);

  const { service, stage, region } = deployed.stack;
  const topicArn = `arn:aws:sns:${region}:${core.endpoints.accountId}:${namesModule.namesFor(service, stage).findingsTopic}`;
  const before = core.sns.messages(topicArn).length;
  log(`expiry: the sweep runs as its schedule runs it (${deployed.stack.params.expirySweepSchedule}) and publishes to ${topicArn}`);
  deployed.functions
    .get('expirySweep')!
    .invoke(scheduledEvent({ accountId: core.endpoints.accountId, region, ruleArn: `arn:aws:events:${region}:${core.endpoints.accountId}:rule/sandbox`, at: new Date() }));
  await core.idle();
  const findings = core.sns.messages(topicArn).slice(before).map((m) => JSON.parse(m.message) as ExpiryFinding);
  const mine = findings.filter((f) => f.deviceId === deviceId);
  const state = await ctx.describe(certificate.certificateId);
  return [
    {
      flow: 'expiry',
      device: 'certificate expires in 10 days',
      deviceId,
      outcome: mine.length === 1 ? 'finding published' : `${mine.length} findings`,
      reason: mine[0] ? `${mine[0].reasons.join('+')}, ${mine[0].daysLeft} days left` : '—',
      certificateStatus: state.status,
      thing: state.thing,
      mqtt: mqtt.connected ? `in after ${mqtt.attempts} attempts${mqtt.published ? ', published' : ''}` : 'refused',
      // Exactly this device: the sandbox's other bound certificates are neither expiring nor old.
      asExpected: findings.length === 1 && mine.length === 1 && mine[0]!.reasons.join() === 'expiring' && state.status === 'ACTIVE',
    },
  ];
}
