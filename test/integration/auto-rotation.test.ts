import { DescribeJobCommand, ListJobsCommand, ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { issueCertificate } from '../../lib/pki';
import { DAY_MS } from '../../shared/expiry/sweep';
import type { ExpiryFinding } from '../../shared/expiry/ports';
import { startLocalStack, type LocalStack } from '../support/local-stack';
import namesModule = require('../../resources/names.cjs');

/**
 * Auto-rotation (issue 14, the autoRotation stage parameter): the expiry sweep, run by its own schedule
 * (rate(10 minutes), time-scaled to 0.6 s) in the local IoT Core with its own role, starts one rotation job
 * for the devices it found due — and with the parameter off (the default), it starts none.
 */

async function withStack(params: Record<string, string>, body: (stack: LocalStack, findings: () => ExpiryFinding[]) => Promise<void>) {
  const stack = await startLocalStack({ params: { expirySweepSchedule: 'rate(10 minutes)', ...params } });
  try {
    const names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
    const topicArn = `arn:aws:sns:${stack.deployed.stack.region}:${stack.core.defaultAccount.accountId}:${names.findingsTopic}`;
    await body(stack, () => stack.core.sns.messages(topicArn).map((m) => JSON.parse(m.message) as ExpiryFinding));
  } finally {
    await stack.close();
  }
}

async function bindByJitr(stack: LocalStack, deviceId: string, validity: { notBefore: Date; notAfter: Date }) {
  await stack.registry.allow(deviceId, {}, new Date());
  const device = await issueCertificate(stack.ca, { subject: { serialNumber: deviceId }, ...validity });
  stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
  await stack.core.idle();
  return device;
}

async function until(condition: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await condition()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

const now = Date.now();
const EXPIRING = { notBefore: new Date(now - 100 * DAY_MS), notAfter: new Date(now + 10 * DAY_MS) };
const FRESH = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 400 * DAY_MS) };

describe('auto-rotation from the expiry sweep', () => {
  it("on ('true'): one rotation job from the stack's template for the due devices; later sweeps leave them out", async () => {
    await withStack({ autoRotation: 'true' }, async (stack, findings) => {
      const due = await bindByJitr(stack, 'AUTO-DUE-1', EXPIRING);
      await bindByJitr(stack, 'AUTO-FRESH-1', FRESH);
      await until(async () => (await stack.registry.get('AUTO-DUE-1'))?.rotation !== undefined);
      const rotation = (await stack.registry.get('AUTO-DUE-1'))?.rotation;
      expect(rotation).toMatchObject({ state: 'queued', previousCertificateId: due.certificateId, jobId: expect.stringMatching(/^rotate-auto-\d{8}-\d{6}$/) });
      expect(findings().some((f) => f.deviceId === 'AUTO-DUE-1')).toBe(true);
      expect((await stack.registry.get('AUTO-FRESH-1'))?.rotation).toBeUndefined();

      const names = namesModule.namesFor(stack.deployed.stack.service, stack.deployed.stack.stage);
      const { job } = await stack.iot.send(new DescribeJobCommand({ jobId: rotation!.jobId }));
      expect(job).toMatchObject({ jobTemplateArn: expect.stringMatching(new RegExp(`:jobtemplate/${names.rotationJobTemplate}$`)), targetSelection: 'SNAPSHOT' });
      const members = await stack.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: `rotation-${rotation!.jobId}` }));
      expect(members.things).toEqual(['AUTO-DUE-1']);

      // Further sweeps (every 0.6 s here) find the same device due: it is rotating, so no second job.
      const sweepsBefore = findings().length;
      await until(() => findings().length >= sweepsBefore + 2);
      expect(findings().length).toBeGreaterThanOrEqual(sweepsBefore + 2);
      const jobs = (await stack.iot.send(new ListJobsCommand({}))).jobs ?? [];
      expect(jobs.map((j) => j.jobId)).toEqual([rotation!.jobId]);
      expect((await stack.registry.get('AUTO-DUE-1'))?.rotation?.jobId).toBe(rotation!.jobId);
    });
  }, 90_000);

  it('off (the default): the sweep publishes its findings and starts nothing', async () => {
    await withStack({}, async (stack, findings) => {
      await bindByJitr(stack, 'AUTO-OFF-1', EXPIRING);
      await until(() => findings().filter((f) => f.deviceId === 'AUTO-OFF-1').length >= 2);
      expect(findings().filter((f) => f.deviceId === 'AUTO-OFF-1').length).toBeGreaterThanOrEqual(2);
      expect((await stack.registry.get('AUTO-OFF-1'))?.rotation).toBeUndefined();
      expect((await stack.iot.send(new ListJobsCommand({}))).jobs ?? []).toEqual([]);
    });
  }, 90_000);
});
