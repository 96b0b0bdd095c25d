import { readFileSync } from 'node:fs';
import {
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  type IoTClient,
  RegisterCACertificateCommand,
} from '@aws-sdk/client-iot';
import type { Endpoint } from '../device/mqtt-connection';
import { createCa, type KeyedCertificate } from '../lib/pki';
import { createDocumentClient, createIotClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { listAttachedPolicies } from '../shared/aws/iot/policies';
import { listPrincipalThings } from '../shared/aws/iot/things';
import { deployStack, type DeployedStack, type DeployOptions } from './deploy-stack';
import { LocalIotCore, type LocalIotCoreOptions } from './local-iot-core';

/**
 * A local IoT Core with serverless.yml's stack deployed into it, and this process's AWS SDK pointed at it:
 * the set-up that the integration tests, the sandbox (`npm start`) and the bench share. Each adds only
 * what is its own (devices, a CLI, a baseline handler) on top.
 *
 * `process.env` gets the core's SDK environment (AWS_ENDPOINT_URL_*, region, the account's dummy keys)
 * for as long as the harness runs — the SDK finds its endpoints there, the harness's own clients included —
 * and `close()` puts back what was there before, so one suite's endpoints never leak into the next.
 *
 * Handlers log nothing unless `deploy.environment` sets POWERTOOLS_LOG_LEVEL.
 */

export interface StackHarnessOptions {
  /** Ports, MQTT and the credential provider, traffic (quotas, time scale), Lambda's time scale and concurrency. */
  core?: LocalIotCoreOptions;
  /** serverless.yml's params, extra environment for every function, functions run from other modules (bundles). */
  deploy?: DeployOptions;
}

/** What AWS IoT says of a certificate: its status (undefined when it is not registered), things and policies. */
export interface CertificateState {
  status: string | undefined;
  things: string[];
  policies: string[];
}

export interface StackHarness {
  core: LocalIotCore;
  deployed: DeployedStack;
  /** The SDK's IoT client, pointed at the core. */
  iot: IoTClient;
  /** The stack's device registry table, through the handlers' own adapter. */
  registry: DynamoDeviceRegistry;
  /** The iot:Data-ATS address: the TLS server name (SNI) devices give. */
  dataEndpoint: string;
  /** Where devices connect over MQTT with mutual TLS; only when the core runs MQTT (`core: { mqtt: {…} }`). */
  endpoint: Endpoint | undefined;
  /** The environment put into `process.env` (the one worker containers get too). */
  sdkEnvironment: Record<string, string>;
  /** Creates a CA and registers it as JITR wants it: SNI_ONLY, ACTIVE, auto-registration on. */
  registerCa(commonName: string): Promise<KeyedCertificate>;
  describe(certificateId: string): Promise<CertificateState>;
  /** Stops the core and its containers, and restores `process.env`. */
  close(): Promise<void>;
}

export async function startStackHarness(options: StackHarnessOptions = {}): Promise<StackHarness> {
  const core = await LocalIotCore.start(options.core);
  const sdkEnvironment = core.sdkEnvironment();
  const restoreEnvironment = applyEnvironment(sdkEnvironment);
  const iot = createIotClient();
  const close = async () => {
    iot.destroy();
    await core.close();
    restoreEnvironment();
  };
  try {
    const deployed = await deployStack(core, {
      ...options.deploy,
      environment: { POWERTOOLS_LOG_LEVEL: 'SILENT', ...options.deploy?.environment },
    });
    const dataEndpoint = (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress!;
    const mqtt = core.endpoints.mqtt;
    return {
      core,
      deployed,
      iot,
      registry: new DynamoDeviceRegistry(createDocumentClient(), deployed.tableName),
      dataEndpoint,
      endpoint: mqtt ? { host: dataEndpoint, port: mqtt.port, caPem: readFileSync(core.endpoints.rootCaFile!, 'utf8') } : undefined,
      sdkEnvironment,
      async registerCa(commonName) {
        const ca = await createCa({ commonName });
        await iot.send(
          new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true }),
        );
        return ca;
      },
      async describe(certificateId) {
        let status: string | undefined;
        let arn: string | undefined;
        try {
          const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
          status = certificateDescription?.status;
          arn = certificateDescription?.certificateArn;
        } catch (error) {
          if ((error as Error).name !== 'ResourceNotFoundException') throw error;
        }
        if (!arn) return { status, things: [], policies: [] };
        // Every page, as on AWS, where a list call answers one page of the model's size.
        return { status, things: await listPrincipalThings(iot, arn), policies: await listAttachedPolicies(iot, arn) };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Sets the variables and returns how to put back what each was before (unset, or its old value). */
function applyEnvironment(variables: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(variables).map((key) => [key, process.env[key]]));
  Object.assign(process.env, variables);
  return () => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
