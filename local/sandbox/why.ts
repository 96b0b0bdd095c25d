import type { IoTClient } from '@aws-sdk/client-iot';
import { issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { createLogsClient } from '../../shared/aws/clients';
import { recentConnects } from '../../shared/aws/iot-logs/connects';
import { localFailureQueue } from '../../lib/local-failure-queue';
import { describeCaCertificate, describeCertificate } from '../../shared/aws/iot/certificates';
import { iotCalls } from '../../shared/aws/iot/calls';
import { listAttachedPolicies } from '../../shared/aws/iot/policies';
import { listPrincipalThings } from '../../shared/aws/iot/things';
import { whyCannotConnect } from '../../shared/diagnosis/why';
import type { DeviceRegistryAdmin } from '../../shared/registry/ports';
import type { DeployedStack } from '../deploy-stack';
import type { LocalIotCore } from '../local-iot-core';
import type { SandboxRow } from './row';
import { connectJitr, type Endpoint } from './simulator';

/**
 * `devices why` in the sandbox (issue 11 §4): a device nobody allow-listed connects over MQTT, JITR refuses
 * and revokes its certificate, and the diagnosis — gathered as `devices why --local` gathers it: the
 * registry, the certificate in AWS IoT, its CA, the failure queue through the endpoints — names the cause.
 */

export interface WhyContext {
  core: LocalIotCore;
  deployed: DeployedStack;
  iot: IoTClient;
  registry: Pick<DeviceRegistryAdmin, 'get'>;
  endpoint: Endpoint;
  dataEndpoint: string;
  ca: KeyedCertificate;
  log: (line: string) => void;
  describe: (certificateId: string | undefined) => Promise<{ status: string; thing: string }>;
}

const DEVICE_ID = 'WHY-0001';

export async function runWhyFlows(ctx: WhyContext): Promise<SandboxRow[]> {
  const device = await issueCertificate(ctx.ca, { subject: { commonName: DEVICE_ID, serialNumber: DEVICE_ID } });
  const mqtt = await connectJitr(ctx, device, ctx.ca, DEVICE_ID, 2);

  const logs = createLogsClient();
  const { diagnosis } = await whyCannotConnect(
    {
      registry: ctx.registry,
      iot: iotCalls(ctx.iot, { describeCertificate, listPrincipalThings, listAttachedPolicies, describeCaCertificate }),
      failureQueue: localFailureQueue(ctx.core.endpoints),
      // What `devices why` reads on AWS too: AWS IoT's Connect entries in CloudWatch Logs (AWSIotLogsV2).
      connections: { recent: (certificateId: string) => recentConnects(logs, certificateId) },
    },
    { deviceId: DEVICE_ID, devicePolicy: ctx.deployed.devicePolicyName, dataEndpoint: ctx.dataEndpoint, now: new Date() },
  );
  logs.destroy();
  ctx.log(`devices why ${DEVICE_ID}: ${diagnosis.code}: ${diagnosis.sentence}\n  fix: ${diagnosis.fix}`);
  const state = await ctx.describe(device.certificateId);
  const shortIds = (text: string) => text.replace(/\b([0-9a-f]{8})[0-9a-f]{56}\b/g, '$1…');
  return [
    {
      flow: 'why',
      device: 'devices why, refused device',
      deviceId: DEVICE_ID,
      outcome: `why: ${diagnosis.code}`,
      reason: shortIds(diagnosis.sentence.replace(/ at \S+ and set it \w+\.$/, '')),
      certificateStatus: state.status,
      thing: state.thing,
      mqtt: mqtt.connected ? 'connected' : 'refused',
      asExpected: !mqtt.connected && diagnosis.code === 'refused' && diagnosis.sentence.includes('(device-not-allowlisted)') && state.status === 'REVOKED',
    },
  ];
}
