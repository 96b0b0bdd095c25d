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
import { OPERATOR_SECRET_KEY } from './iam/access-keys';

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
  /**
   * The accounts the stack is deployed into, each with its own deployment (seed 000: the same stage in
   * accounts A and B). The first is the core's default account (the harness's own fields are its); the
   * HTTP API serves the first account's stack only. Default: the core's default account alone.
   */
  accounts?: string[];
}

/** What AWS IoT says of a certificate: its status (undefined when it is not registered), things and policies. */
export interface CertificateState {
  status: string | undefined;
  things: string[];
  policies: string[];
}

/** One account's deployment of the stack, and clients signed with that account's operator key. */
export interface AccountStack {
  accountId: string;
  deployed: DeployedStack;
  /** The SDK's IoT client, pointed at the core. */
  iot: IoTClient;
  /** The stack's device registry table, through the handlers' own adapter. */
  registry: DynamoDeviceRegistry;
  /** The iot:Data-ATS address: the TLS server name (SNI) devices give. */
  dataEndpoint: string;
  /** Where devices connect over MQTT with mutual TLS (SNI: `dataEndpoint`); only when the core runs MQTT. */
  endpoint: Endpoint | undefined;
  /** Registers a CA (a new one, or `ca` itself) as JITR wants it: SNI_ONLY, ACTIVE, auto-registration on. */
  registerCa(commonNameOrCa: string | KeyedCertificate): Promise<KeyedCertificate>;
  describe(certificateId: string): Promise<CertificateState>;
}

export interface StackHarness extends AccountStack {
  core: LocalIotCore;
  /** Every account's deployment, the first account's (this harness's own fields) included. */
  accounts: Map<string, AccountStack>;
  /** The environment put into `process.env` (the one worker containers get too). */
  sdkEnvironment: Record<string, string>;
  /** Stops the core and its containers, and restores `process.env`. */
  close(): Promise<void>;
}

export async function startStackHarness(options: StackHarnessOptions = {}): Promise<StackHarness> {
  const accountIds = options.accounts ?? [];
  if (new Set(accountIds).size !== accountIds.length) throw new Error(`accounts must differ: ${accountIds.join(', ')}`);
  const core = await LocalIotCore.start({ ...options.core, ...(accountIds[0] ? { accountId: accountIds[0] } : {}) });
  const sdkEnvironment = core.sdkEnvironment();
  const restoreEnvironment = applyEnvironment(sdkEnvironment);
  const accounts = new Map<string, AccountStack>();
  const clients: Array<{ destroy(): void }> = [];
  const close = async () => {
    for (const client of clients) client.destroy();
    await core.close();
    restoreEnvironment();
  };
  try {
    for (const accountId of accountIds.length ? accountIds : [core.endpoints.accountId]) {
      const deployed = await deployStack(core, {
        ...options.deploy,
        accountId,
        // The local HTTP API is one: the first account's stack serves it.
        ...(accounts.size > 0 ? { httpApi: false } : {}),
        environment: { POWERTOOLS_LOG_LEVEL: 'SILENT', ...options.deploy?.environment },
      });
      accounts.set(accountId, await accountStack(core, accountId, deployed, clients));
    }
    const first = accounts.values().next().value!;
    return { ...first, core, accounts, sdkEnvironment, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** An account's deployment with clients signed by its operator key (a 12-digit access key id: local/iam/access-keys.ts). */
async function accountStack(core: LocalIotCore, accountId: string, deployed: DeployedStack, clients: Array<{ destroy(): void }>): Promise<AccountStack> {
  const credentials = { accessKeyId: accountId, secretAccessKey: OPERATOR_SECRET_KEY };
  // Signed with the account's key whatever process.env says later (the CLI under test sets it too).
  const iot = createIotClient({ credentials });
  const documents = createDocumentClient({ credentials });
  clients.push(iot, documents);
  const dataEndpoint = (await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress!;
  const mqtt = core.endpoints.mqtt;
  // Devices of another account reach the same listener by SNI, as on AWS (aws-iot-reference §2): host
  // localhost, server name the account's endpoint (the local server certificate names *.iot.<region>.amazonaws.com).
  const endpoint = mqtt
    ? { host: mqtt.host, port: mqtt.port, caPem: readFileSync(core.endpoints.rootCaFile!, 'utf8'), ...(dataEndpoint !== mqtt.host ? { servername: dataEndpoint } : {}) }
    : undefined;
  return {
    accountId,
    deployed,
    iot,
    registry: new DynamoDeviceRegistry(documents, deployed.tableName),
    dataEndpoint,
    endpoint,
    async registerCa(commonNameOrCa) {
      const ca = typeof commonNameOrCa === 'string' ? await createCa({ commonName: commonNameOrCa }) : commonNameOrCa;
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
  };
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
