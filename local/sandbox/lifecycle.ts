import type { IoTClient } from '@aws-sdk/client-iot';
import { issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { bindCalls } from '../../shared/aws/bind-calls';
import { createDocumentClient } from '../../shared/aws/clients';
import type { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { lifecycleIotCalls } from '../../shared/aws/iot/lifecycle-calls';
import { listThingGroupsForThing } from '../../shared/aws/iot/things';
import { appendTimelineEvent } from '../../shared/aws/timeline/events';
import { resumeDevice, retireDevice, suspendDevice, type LifecycleDeps } from '../../shared/lifecycle/actions';
import type { DeployedStack } from '../deploy-stack';
import type { LocalIotCore } from '../local-iot-core';
import type { SandboxRow } from './row';
import { connectJitr, type Endpoint } from './simulator';

/**
 * The sandbox's lifecycle rows (issue 11 §1): a device suspended (refused at connect), resumed (in again);
 * a device retired (refused, and a new certificate for its serial refused too), then refurbished — allowed
 * again — and provisioned with a new certificate. The actions are the shared workflows the CLI runs.
 */

export interface LifecycleContext {
  core: LocalIotCore;
  deployed: DeployedStack;
  iot: IoTClient;
  registry: DynamoDeviceRegistry;
  endpoint: Endpoint;
  ca: KeyedCertificate;
  log: (line: string) => void;
  describe: (certificateId: string | undefined) => Promise<{ status: string; thing: string }>;
}

export async function runLifecycleFlows(ctx: LifecycleContext): Promise<SandboxRow[]> {
  const { core, deployed, iot, registry, ca, describe } = ctx;
  const rows: SandboxRow[] = [];
  const deps: LifecycleDeps = {
    registry,
    iot: lifecycleIotCalls(iot),
    timeline: bindCalls({ client: createDocumentClient(), tableName: deployed.timelineTableName }, { append: appendTimelineEvent }),
    quarantineGroup: deployed.quarantineGroupName,
    actor: { kind: 'cli', id: `local:${core.endpoints.accountId}` },
    now: () => new Date(),
  };
  const connect = async (deviceId: string, device: KeyedCertificate, attempts: number) => {
    const result = await connectJitr(ctx, device, ca, deviceId, attempts);
    return result;
  };
  const mqttText = (r: { connected: boolean; attempts: number; published: boolean }) =>
    r.connected ? `in after ${r.attempts} attempts${r.published ? ', published' : ''}` : 'refused';
  const groupsOf = async (thingName: string) => (await listThingGroupsForThing(iot, thingName)) ?? [];
  const row = (device: string, deviceId: string, outcome: string, reason: string, state: { status: string; thing: string }, mqtt: string, asExpected: boolean): SandboxRow => ({
    flow: 'lifecycle',
    device,
    deviceId,
    outcome,
    reason,
    certificateStatus: state.status,
    thing: state.thing,
    mqtt,
    asExpected,
  });

  ctx.log(`lifecycle: devices suspend|resume|retire run the shared workflows; suspended things wait in ${deployed.quarantineGroupName}`);

  // ---- suspend, then resume ----
  await registry.allow('LIFE-0001', { thingGroup: deployed.thingGroupName }, new Date());
  const first = await issueCertificate(ca, { subject: { serialNumber: 'LIFE-0001' } });
  const provisioned = await connect('LIFE-0001', first, 3);
  await suspendDevice('LIFE-0001', deps);
  const whileSuspended = await connect('LIFE-0001', first, 1);
  const suspendedState = await describe(first.certificateId);
  const quarantined = (await groupsOf('LIFE-0001')).includes(deployed.quarantineGroupName);
  rows.push(
    row('suspended by the operator', 'LIFE-0001', 'suspended', quarantined ? 'thing in quarantine' : 'thing not quarantined', suspendedState, mqttText(whileSuspended),
      provisioned.connected && !whileSuspended.connected && suspendedState.status === 'INACTIVE' && quarantined),
  );
  await resumeDevice('LIFE-0001', deps);
  const resumed = await connect('LIFE-0001', first, 1);
  const resumedState = await describe(first.certificateId);
  const backInGroup = (await groupsOf('LIFE-0001')).join(',') === deployed.thingGroupName;
  rows.push(
    row('resumed', 'LIFE-0001', 'resumed', backInGroup ? 'back in its group' : 'groups not restored', resumedState, mqttText(resumed),
      resumed.connected && resumedState.status === 'ACTIVE' && backInGroup),
  );

  // ---- retire, a copied serial refused, refurbish ----
  await registry.allow('LIFE-0002', {}, new Date());
  const old = await issueCertificate(ca, { subject: { serialNumber: 'LIFE-0002' } });
  await connect('LIFE-0002', old, 3);
  await retireDevice('LIFE-0002', { keepThing: false }, deps);
  const afterRetire = await connect('LIFE-0002', old, 1);
  const retiredState = await describe(old.certificateId);
  rows.push(
    row('retired (decommissioned)', 'LIFE-0002', 'retired', 'thing deleted', retiredState, mqttText(afterRetire),
      !afterRetire.connected && retiredState.status === 'REVOKED' && retiredState.thing === '—'),
  );
  const copy = await issueCertificate(ca, { subject: { serialNumber: 'LIFE-0002' } });
  const copyResult = await connect('LIFE-0002', copy, 2);
  const copyReason = (await registry.get('LIFE-0002'))?.lastRejection?.reason ?? '—';
  const copyState = await describe(copy.certificateId);
  rows.push(
    row('new certificate for a retired serial', 'LIFE-0002', 'revoked', copyReason, copyState, mqttText(copyResult),
      !copyResult.connected && copyReason === 'device-retired' && copyState.status === 'REVOKED'),
  );
  await registry.allow('LIFE-0002', {}, new Date());
  const fresh = await issueCertificate(ca, { subject: { serialNumber: 'LIFE-0002' } });
  const refurbished = await connect('LIFE-0002', fresh, 3);
  const freshState = await describe(fresh.certificateId);
  rows.push(
    row('refurbished: allowed again, new certificate', 'LIFE-0002', 'activated', 'admitted', freshState, mqttText(refurbished),
      refurbished.connected && freshState.status === 'ACTIVE' && freshState.thing === 'LIFE-0002'),
  );
  return rows;
}
