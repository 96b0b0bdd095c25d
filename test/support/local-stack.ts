import { ListThingPrincipalsCommand, type IoTClient } from '@aws-sdk/client-iot';
import type { LocalIotCoreOptions } from '../../local/local-iot-core';
import type { DeployOptions } from '../../local/deploy-stack';
import { startStackHarness, type CertificateState, type StackHarness } from '../../local/stack-harness';
import { deviceChain, issueCertificate, type KeyedCertificate, type KeySpec } from '../../lib/pki';

/**
 * The stack harness (local/stack-harness.ts) with a CA registered (SNI_ONLY, auto-registration on), and
 * helpers to make devices and read back what AWS IoT and the registry say about them — all through the
 * real SDK.
 */
export interface LocalStack extends StackHarness {
  ca: KeyedCertificate;
  device(
    deviceId: string,
    options?: { registry?: 'allow' | 'block'; thingGroup?: string; thingType?: string; keySpec?: KeySpec },
  ): Promise<KeyedCertificate>;
  chain(device: KeyedCertificate): string;
  state(device: KeyedCertificate): Promise<CertificateState>;
}

export async function startLocalStack(
  options: { core?: LocalIotCoreOptions; params?: Record<string, string>; deploy?: Omit<DeployOptions, 'params'> } = {},
): Promise<LocalStack> {
  const stack = await startStackHarness({
    core: { lambdaTimeScale: 1_000, ...options.core },
    deploy: { ...options.deploy, ...(options.params ? { params: options.params } : {}) },
  });
  const { registry } = stack;
  const ca = await stack.registerCa('Integration CA');
  return {
    ...stack,
    ca,
    async device(deviceId, o = {}) {
      const certificate = await issueCertificate(ca, { subject: { serialNumber: deviceId }, ...(o.keySpec ? { keySpec: o.keySpec } : {}) });
      if (o.registry === 'allow') {
        await registry.allow(deviceId, { ...(o.thingGroup ? { thingGroup: o.thingGroup } : {}), ...(o.thingType ? { thingType: o.thingType } : {}) }, new Date());
      }
      if (o.registry === 'block') await registry.block(deviceId, new Date());
      return certificate;
    },
    chain: (device) => deviceChain(device, ca),
    state: (device) => stack.describe(device.certificateId),
  };
}

export async function thingPrincipals(iot: IoTClient, thingName: string): Promise<string[]> {
  return (await iot.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
}
