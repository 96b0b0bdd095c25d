import {
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCACertificateCommand,
} from '@aws-sdk/client-iot';
import { createDocumentClient, createIotClient } from '../../shared/aws/clients';
import { DynamoDeviceRegistry } from '../../shared/aws/device-registry';
import { LocalIotCore, type LocalIotCoreOptions } from '../../local/local-iot-core';
import { createCa, deviceChain, issueCertificate, type KeyedCertificate, type KeySpec } from '../../lib/pki';
import { deployStack, type DeployedStack } from '../../local/deploy-stack';

/**
 * A local IoT Core with the stack deployed, a CA registered (SNI_ONLY, auto-registration on), and helpers
 * to make devices and read back what AWS IoT and the registry say about them — all through the real SDK.
 */
export interface LocalStack {
  core: LocalIotCore;
  deployed: DeployedStack;
  iot: IoTClient;
  registry: DynamoDeviceRegistry;
  ca: KeyedCertificate;
  serverName: string;
  device(
    deviceId: string,
    options?: { registry?: 'allow' | 'block'; thingGroup?: string; thingType?: string; keySpec?: KeySpec },
  ): Promise<KeyedCertificate>;
  chain(device: KeyedCertificate): string;
  state(device: KeyedCertificate): Promise<DeviceState>;
  close(): Promise<void>;
}

export interface DeviceState {
  status: string | undefined;
  things: string[];
  policies: string[];
}

export async function startLocalStack(
  options: { core?: LocalIotCoreOptions; params?: Record<string, string> } = {},
): Promise<LocalStack> {
  const core = await LocalIotCore.start({ lambdaTimeScale: 1_000, ...options.core });
  const deployed = await deployStack(core, {
    ...(options.params ? { params: options.params } : {}),
    environment: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  Object.assign(process.env, core.sdkEnvironment());
  const iot = createIotClient();
  const registry = new DynamoDeviceRegistry(createDocumentClient(), deployed.tableName);
  const ca = await createCa({ commonName: 'Integration CA' });
  await iot.send(
    new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true }),
  );
  const { endpointAddress } = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  return {
    core,
    deployed,
    iot,
    registry,
    ca,
    serverName: endpointAddress!,
    async device(deviceId, o = {}) {
      const certificate = await issueCertificate(ca, { subject: { serialNumber: deviceId }, ...(o.keySpec ? { keySpec: o.keySpec } : {}) });
      if (o.registry === 'allow') {
        await registry.allow(deviceId, { ...(o.thingGroup ? { thingGroup: o.thingGroup } : {}), ...(o.thingType ? { thingType: o.thingType } : {}) }, new Date());
      }
      if (o.registry === 'block') await registry.block(deviceId, new Date());
      return certificate;
    },
    chain: (device) => deviceChain(device, ca),
    async state(device) {
      let status: string | undefined;
      let arn: string | undefined;
      try {
        const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId: device.certificateId }));
        status = certificateDescription?.status;
        arn = certificateDescription?.certificateArn;
      } catch (error) {
        if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      }
      if (!arn) return { status, things: [], policies: [] };
      const { things } = await iot.send(new ListPrincipalThingsCommand({ principal: arn }));
      const { policies } = await iot.send(new ListAttachedPoliciesCommand({ target: arn }));
      return { status, things: things ?? [], policies: (policies ?? []).map((p) => p.policyName!) };
    },
    async close() {
      iot.destroy();
      await core.close();
    },
  };
}

export async function thingPrincipals(iot: IoTClient, thingName: string): Promise<string[]> {
  return (await iot.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
}
