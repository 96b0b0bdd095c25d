import { runFleetDevice, runJitrDevice, type FleetDeviceResult } from './simulator';
import type { MqttVersion } from '../../device/mqtt-connection';
import { splitPemChain } from '../iot-core/pem';
import { randomBytes } from 'node:crypto';
import { ENDPOINTS_FILE, removeEndpointsFile, writeEndpointsFile } from '../../lib/local-endpoints';
import { startStackHarness } from '../stack-harness';
import { RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { createCa, createIntermediateCa, issueCertificate, type KeyedCertificate, type KeySpec } from '../../lib/pki';
import { formatTable, type SandboxRow } from './row';
import { runVendingFlows } from './vending';
import { runImportFlows } from './import';
import { runWhyFlows } from './why';
import { runLifecycleFlows } from './lifecycle';
import { runExpiryFlows } from './expiry';
import { runRotationFlows } from './rotation';
import { runAccountFlows, SANDBOX_ACCOUNTS } from './accounts';
import { formatMetricsSummary } from '../lambda/local-metrics';

/**
 * `npm start`: the provisioning flows end to end, offline. A local IoT Core runs in this process with the
 * stack of serverless.yml deployed into it (tables, policies, topic rule, fleet template, the real
 * handlers in Lambda-like containers), and devices speak real MQTT over mutual TLS to it:
 *
 * 1. JITR: a CA is registered (SNI_ONLY, auto-registration), some devices are allow-listed, and one device
 *    per admission case connects; the activateCertificate handler decides; admitted devices get in on
 *    their next attempt and publish telemetry.
 * 2. Fleet provisioning: an operator signs in (a local JWT), asks the HTTP API for claim certificates, and
 *    devices provision themselves over MQTT; the pre-provisioning hook decides.
 * 3. Certificate vending, the certificate custom resource and the credential provider (vending.ts).
 */

const DAY = 24 * 60 * 60 * 1000;

interface JitrCase {
  label: string;
  subject: { commonName?: string; serialNumber?: string; organization?: string };
  keySpec?: KeySpec;
  notBefore?: Date;
  notAfter?: Date;
  issuer?: 'registered-ca' | 'unknown-ca' | 'intermediate-2' | 'intermediate-3';
  registry?: 'allow' | 'block';
  /** The simulators speak MQTT 3.1.1 unless a case asks for 5. */
  mqtt?: MqttVersion;
  expect: { outcome: string; reason?: string };
}

interface FleetCase {
  label: string;
  serialNumber: string;
  api: 'create-from-csr' | 'create';
  registry?: 'allow' | 'block';
  mqtt?: MqttVersion;
  expect: { outcome: string; reason?: string };
}

const jitrCases = (): JitrCase[] => [
  { label: 'valid, allow-listed', subject: { commonName: 'ValidDevice', serialNumber: 'SENSOR-0001' }, registry: 'allow', expect: { outcome: 'activated' } },
  { label: 'valid, RSA-2048, id from CN', subject: { commonName: 'gateway-0002' }, keySpec: 'rsa-2048', registry: 'allow', mqtt: '5', expect: { outcome: 'activated' } },
  { label: 'not allow-listed', subject: { commonName: 'Stranger', serialNumber: 'SENSOR-0003' }, expect: { outcome: 'revoked', reason: 'device-not-allowlisted' } },
  { label: 'blocked', subject: { serialNumber: 'SENSOR-0004' }, registry: 'block', expect: { outcome: 'revoked', reason: 'device-blocked' } },
  {
    label: 'expired',
    subject: { serialNumber: 'SENSOR-0005' },
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 35 * DAY),
    registry: 'allow',
    expect: { outcome: 'refused at TLS', reason: 'certificate-expired' },
  },
  { label: 'RSA-1024 key', subject: { serialNumber: 'SENSOR-0006' }, keySpec: 'rsa-1024', registry: 'allow', expect: { outcome: 'revoked', reason: 'key-too-weak' } },
  { label: 'unknown CA', subject: { serialNumber: 'SENSOR-0007' }, issuer: 'unknown-ca', registry: 'allow', expect: { outcome: 'refused at TLS', reason: 'unknown-certificate-authority' } },
  { label: 'no device id', subject: { organization: 'Acme Devices' }, expect: { outcome: 'revoked', reason: 'device-id-missing' } },
  // Signed by a registered intermediate whose root is not registered (AWS: register the signing CA only).
  { label: 'intermediate CA (2 levels)', subject: { serialNumber: 'SENSOR-0009' }, issuer: 'intermediate-2', registry: 'allow', expect: { outcome: 'activated' } },
  { label: 'intermediate CA (3 levels)', subject: { serialNumber: 'SENSOR-0010' }, issuer: 'intermediate-3', registry: 'allow', expect: { outcome: 'activated' } },
];

const fleetCases = (): FleetCase[] => [
  { label: 'allow-listed serial (CSR)', serialNumber: 'FLEET-0001', api: 'create-from-csr', registry: 'allow', expect: { outcome: 'provisioned' } },
  { label: 'allow-listed serial (keys by AWS)', serialNumber: 'FLEET-0002', api: 'create', registry: 'allow', mqtt: '5', expect: { outcome: 'provisioned' } },
  { label: 'unknown serial', serialNumber: 'FLEET-0003', api: 'create', expect: { outcome: 'refused', reason: 'device-not-allowlisted' } },
  { label: 'blocked serial', serialNumber: 'FLEET-0004', api: 'create-from-csr', registry: 'block', expect: { outcome: 'refused', reason: 'device-blocked' } },
  { label: 'takeover of FLEET-0001', serialNumber: 'FLEET-0001', api: 'create-from-csr', expect: { outcome: 'refused', reason: 'device-already-bound' } },
];

export interface SandboxResult {
  rows: SandboxRow[];
  failures: number;
  /** The functions' metrics (their EMF lines, collected by the local Lambda runtime), as printed after the table. */
  metrics: string;
  /** With `serve`: the running local IoT Core, its console and sign-ins; `close()` stops it. */
  served?: { console: string; users: Array<{ email: string; password: string; group: string }>; endpointsFile: string; close: () => Promise<void> };
}

export interface SandboxOptions {
  /** Keep the local IoT Core running after the table, with the console served on `consolePort` (`npm start -- --serve`). */
  serve?: boolean;
  consolePort?: number;
  /** Where the served fleet's endpoints are written for the CLI's --local (default .local/endpoints.json). */
  endpointsFile?: string;
}

/** The sign-ins `npm start -- --serve` prints: one technician, one operator, passwords made up per run. */
const SERVED_USERS = [
  { email: 'technician@example.com', group: 'technicians' },
  { email: 'operator@example.com', group: 'operators' },
] as const;

export const CONSOLE_PORT = 4577;

export async function runSandbox(log: (line: string) => void = () => {}, logLevel = 'SILENT', options: SandboxOptions = {}): Promise<SandboxResult> {
  // The local IoT Core's clock: the rotation rows move it past a job's in-progress timeout instead of waiting.
  let clockOffsetMs = 0;
  const stack = await startStackHarness({
    // AWS's control-plane quotas stay on; Lambda's one- and two-minute retry delays run 600× faster.
    core: { lambdaTimeScale: 600, now: () => new Date(Date.now() + clockOffsetMs), mqtt: { port: 0 }, credentials: { port: 0 }, ...(options.serve ? { console: { port: options.consolePort ?? CONSOLE_PORT } } : {}) },
    // Handler logs are JSON lines; LOG_LEVEL=INFO npm start shows them.
    // A rotation job's in-progress timeout of 1 minute (the API's least; 60 by default): the rotation rows move the
    // clock 61 s past it, well inside every credential's and token's lifetime.
    deploy: { environment: { POWERTOOLS_LOG_LEVEL: logLevel }, params: { rotationInProgressTimeoutMinutes: '1' } },
    // Seed 000: the stack deployed into accounts A and B (A is the core's default account).
    accounts: [...SANDBOX_ACCOUNTS],
  });
  try {
    const { core, deployed, iot, registry } = stack;
    const endpoint = stack.endpoint!;
    log(`local IoT Core: control plane ${core.endpoints.iot}, MQTT mqtts://localhost:${core.endpoints.mqtt!.port}, HTTP API ${core.endpoints.http}`);
    log(`deployed "${deployed.stack.service}-${deployed.stack.stage}": registry ${deployed.tableName}, device policy ${deployed.devicePolicyName}, JITR rule, fleet template ${deployed.templateName}`);

    // The table's columns: a certificate's status and its things, or that AWS IoT does not know it.
    const describe = async (certificateId: string | undefined) => {
      const state = certificateId ? await stack.describe(certificateId) : undefined;
      return { status: state?.status ?? 'not registered', thing: state?.things.join(', ') || '—' };
    };
    const rows: SandboxRow[] = [];

    // ---- 1. JITR ----
    const ca = await stack.registerCa('MyDeviceRootCA');
    const strangerCa = await createCa({ commonName: 'SomebodyElsesCA' });
    log(`JITR: registered CA ${ca.certificateId} (SNI_ONLY, ACTIVE, auto-registration ENABLE)`);
    // A production PKI: root → issuing CA 1 → issuing CA 2; only the two signing intermediates are registered.
    const pkiRoot = await createCa({ commonName: 'MyPkiRootCA' });
    const issuing1 = await createIntermediateCa(pkiRoot, { commonName: 'MyIssuingCA1' });
    const issuing2 = await createIntermediateCa(issuing1, { commonName: 'MyIssuingCA2' });
    for (const intermediate of [issuing1, issuing2]) {
      await iot.send(new RegisterCACertificateCommand({ caCertificate: intermediate.certificatePem, certificateMode: 'SNI_ONLY', setAsActive: true, allowAutoRegistration: true }));
    }
    // Each case's signing CA, then what else its device sends: the 2-level device sends its root too, the 3-level one both intermediates.
    const chains: Record<NonNullable<JitrCase['issuer']>, KeyedCertificate[]> = {
      'registered-ca': [ca],
      'unknown-ca': [strangerCa],
      'intermediate-2': [issuing1, pkiRoot],
      'intermediate-3': [issuing2, issuing1],
    };
    const jitrDevices: Array<{ spec: JitrCase; deviceId: string; certificate: KeyedCertificate; chain: string }> = [];
    for (const spec of jitrCases()) {
      const [issuer, ...above] = chains[spec.issuer ?? 'registered-ca'];
      const certificate = await issueCertificate(issuer!, {
        subject: spec.subject,
        ...(spec.keySpec ? { keySpec: spec.keySpec } : {}),
        ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
        ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
      });
      const deviceId = spec.subject.serialNumber ?? spec.subject.commonName ?? '—';
      if (spec.registry === 'allow') await registry.allow(deviceId, {}, new Date());
      if (spec.registry === 'block') await registry.block(deviceId, new Date());
      jitrDevices.push({ spec, deviceId, certificate, chain: [certificate, issuer!, ...above].map((c) => c.certificatePem.trimEnd()).join('\n') + '\n' });
    }
    log(`JITR: ${jitrDevices.length} devices connect over MQTT/TLS (mosquitto-style: device certificate + CA chain)…`);
    const jitrResults = await Promise.all(
      jitrDevices.map((device) =>
        runJitrDevice({
          endpoint: { ...endpoint, ...(device.spec.mqtt ? { mqtt: device.spec.mqtt } : {}) },
          identity: { certificatePem: device.chain, privateKeyPem: device.certificate.privateKeyPem },
          clientId: device.deviceId === '—' ? 'no-id-device' : device.deviceId,
          maxAttempts: 3,
          backoffMs: 100,
          // While a device backs off, the registered event reaches the handler.
          betweenAttempts: () => core.idle(),
        }),
      ),
    );
    await core.idle();
    for (const [i, device] of jitrDevices.entries()) {
      const mqtt = jitrResults[i]!;
      // A TLS refusal happens before any registration; the gateway names the reason without side effects.
      const handshake = core.gateway.verifyHandshake(splitPemChain(device.chain), endpoint.host);
      const result = core.results.find((r) => (r.event as { certificateId?: string }).certificateId === device.certificate.certificateId)
        ?.result as { outcome?: string; reason?: string } | undefined;
      const state = await describe(handshake.ok ? device.certificate.certificateId : undefined);
      const outcome = !handshake.ok ? 'refused at TLS' : result?.outcome === 'rejected' ? 'revoked' : (result?.outcome ?? 'pending');
      const reason = !handshake.ok ? handshake.reason : result?.outcome === 'rejected' ? String(result.reason) : 'admitted';
      rows.push({
        flow: 'JITR',
        device: device.spec.label,
        deviceId: device.deviceId,
        outcome,
        reason,
        certificateStatus: state.status,
        thing: state.thing,
        mqtt: `${mqtt.connected ? `in after ${mqtt.attempts} attempts${mqtt.published ? ', published' : ''}` : 'refused'}${device.spec.mqtt ? ` over MQTT ${device.spec.mqtt}` : ''}`,
        asExpected: outcome === device.spec.expect.outcome && (!device.spec.expect.reason || device.spec.expect.reason === reason),
      });
    }

    // ---- 2. Fleet provisioning ----
    const token = await core.issueToken('technician@example.com', { groups: ['technicians'] });
    log(`fleet: technician@example.com (group technicians) signed in (local JWT) and asks ${core.endpoints.http}/provisioning-claims for claim certificates`);
    for (const spec of fleetCases()) {
      if (spec.registry === 'allow') await registry.allow(spec.serialNumber, {}, new Date());
      if (spec.registry === 'block') await registry.block(spec.serialNumber, new Date());
    }
    // One after another: the takeover attempt must come once its victim is provisioned (and concurrent
    // cold starts of the function containers make the whole slower on two cores).
    const provision = async (spec: FleetCase): Promise<SandboxRow> => {
      const response = await fetch(`${core.endpoints.http}/provisioning-claims`, { method: 'POST', headers: { authorization: token }, body: '{}' });
      if (response.status !== 201) throw new Error(`POST /provisioning-claims answered ${response.status}: ${await response.text()}`);
      const claim = (await response.json()) as { certificatePem: string; privateKey: string; templateName: string };
      const result: FleetDeviceResult = await runFleetDevice({
        endpoint: { ...endpoint, ...(spec.mqtt ? { mqtt: spec.mqtt } : {}) },
        claim: { certificatePem: claim.certificatePem, privateKeyPem: claim.privateKey },
        templateName: claim.templateName,
        serialNumber: spec.serialNumber,
        api: spec.api,
      });
      const entry = await registry.get(spec.serialNumber);
      const decision = entry?.lastProvisioning;
      const certificateId = result.outcome === 'provisioned' ? result.certificateId : decision?.certificateId;
      const state = await describe(certificateId);
      const outcome = result.outcome;
      const reason = result.outcome === 'provisioned' ? 'allowed' : (decision?.outcome === 'denied' && decision.reason) || result.errorCode;
      return {
        flow: 'fleet',
        device: spec.label,
        deviceId: spec.serialNumber,
        outcome,
        reason,
        certificateStatus: state.status,
        thing: result.outcome === 'provisioned' ? result.thingName : state.thing,
        mqtt:
          (result.outcome === 'provisioned'
            ? `reconnected as ${result.thingName}${result.published ? ', published' : ''}`
            : `${result.step}: ${result.errorCode}`) + (spec.mqtt ? ` over MQTT ${spec.mqtt}` : ''),
        asExpected: outcome === spec.expect.outcome && (!spec.expect.reason || spec.expect.reason === reason),
      };
    };
    for (const spec of fleetCases()) rows.push(await provision(spec));

    // ---- 3.-5. Vending, the custom resource, device credentials ----
    rows.push(
      ...(await runVendingFlows({ core, deployed, iot, registry, endpoint, caPem: endpoint.caPem!, log, describe })),
    );
    rows.push(...(await runImportFlows({ core, registryTable: deployed.tableName, ca, endpoint, log, describe })));
    rows.push(...(await runWhyFlows({ core, deployed, iot, registry, endpoint, dataEndpoint: stack.dataEndpoint, ca, log, describe })));
    rows.push(...(await runLifecycleFlows({ core, deployed, iot, registry, endpoint, ca, log, describe })));
    rows.push(...(await runExpiryFlows({ core, deployed, registry, endpoint, ca, log, describe })));
    rows.push(...(await runAccountFlows({ core, a: stack.accounts.get(SANDBOX_ACCOUNTS[0])!, b: stack.accounts.get(SANDBOX_ACCOUNTS[1])!, log })));
    // Last: it moves the clock forward (the job's in-progress timeout), which no row before it should see.
    const advanceClock = (ms: number) => void (clockOffsetMs += ms);
    rows.push(...(await runRotationFlows({ core, deployed, iot, registry, endpoint, ca, log, describe, advanceClock })));
    await core.idle();
    const metrics = [
      formatMetricsSummary(core.metrics, { accountId: SANDBOX_ACCOUNTS[0] }),
      formatMetricsSummary(core.metrics, { accountId: SANDBOX_ACCOUNTS[1], heading: 'metrics of account B (its own stack: the accounts rows in B):' }),
    ].join('\n');
    const result: SandboxResult = { rows, failures: core.failures.length, metrics };
    if (options.serve) {
      const pool = await core.userPool();
      const users = [];
      for (const user of SERVED_USERS) {
        const password = `Local-${randomBytes(6).toString('base64url')}-1`;
        await pool.addUser(user.email, password, [user.group]);
        users.push({ ...user, password });
      }
      // The CLI's --local finds this fleet through the endpoints file, as it finds `npm run emulator`'s.
      const endpointsFile = options.endpointsFile ?? ENDPOINTS_FILE;
      writeEndpointsFile(endpointsFile, { ...core.endpoints, accounts: SANDBOX_ACCOUNTS.map((accountId, i) => ({ label: 'AB'[i]!, accountId })) });
      result.served = {
        console: core.endpoints.console!,
        users,
        endpointsFile,
        close: async () => {
          removeEndpointsFile(endpointsFile);
          await stack.close();
        },
      };
    }
    return result;
  } finally {
    if (!options.serve) await stack.close();
  }
}

if (require.main === module) {
  const started = Date.now();
  const serve = process.argv.includes('--serve');
  runSandbox((line) => console.log(line), process.env.LOG_LEVEL ?? 'SILENT', { serve })
    .then(({ rows, failures, metrics, served }) => {
      console.log(`\n${formatTable(rows)}\n`);
      console.log(`${metrics}\n`);
      const unexpected = rows.filter((r) => !r.asExpected).length;
      console.log(
        `${rows.length} cases, ${unexpected} unexpected, ${failures} events in the failure queue, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      process.exitCode = unexpected === 0 ? 0 : 1;
      if (!served) {
        console.log(`\nconsole: \`npm start -- --serve\` keeps this fleet running and serves the provisioning console at http://localhost:${CONSOLE_PORT}/`);
        return;
      }
      console.log(`\nconsole ${served.console}   (the fleet above keeps running; Ctrl-C stops it)`);
      for (const user of served.users) console.log(`  sign in as ${user.email.padEnd(24)} password ${user.password}   (${user.group})`);
      console.log('  Local sign-in asks no MFA (the stack\'s user pool asks for TOTP).');
      console.log(`  The CLI reaches it with --local (${served.endpointsFile}), e.g. npx iot-provisioner devices why WHY-0001 --local`);
      const stop = () => void served.close().then(() => process.exit(process.exitCode ?? 0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    })
    .catch((error: unknown) => {
      console.error('sandbox failed:', error);
      process.exitCode = 1;
    });
}

