import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DescribeCertificateCommand, type IoTClient, ListCertificatesCommand, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import type { MqttClient } from 'mqtt';
import { requestReply } from '../../device/fleet-provisioning';
import { connectOnce, runJitrDevice, type Endpoint, type Identity } from '../../local/sandbox/simulator';
import { registeredEventOf } from '../../local/iot-core/device-gateway';
import { splitPemChain } from '../../local/iot-core/pem';
import type { LocalIotCore } from '../../local/local-iot-core';
import { startStackHarness, type StackHarness } from '../../local/stack-harness';
import { loadStack, PROJECT_ROOT } from '../../lib/stack';
import { createCa, createCsr, deviceChain, issueCertificate, type KeyedCertificate, type KeySpec, type Subject } from '../../lib/pki';
import { importRows } from '../../shared/registry/import-devices';
import { createDocumentClient } from '../../shared/aws/clients';
import { loadEvent } from '../support/fixtures';
import { signedFetch } from '../support/signed-fetch';
import { captureHandlerLogs, findSecrets, type LogCapture } from './log-capture';
import type { DeployedStack } from '../../local/deploy-stack';

/**
 * The security matrix, end to end through the local IoT Core: devices over MQTT with mutual TLS, the HTTP
 * API with its JWT and IAM authorizers, the real handlers (bundled) in Lambda-like containers. Each way in that must
 * stay shut is tried once — unknown CA, expired, not yet valid, RSA-1024, blocked, not allow-listed, no
 * device id, a CSR naming another device, takeovers through fleet provisioning, unauthenticated vending and
 * claim calls, a replayed ownership token — and must be refused, the certificate revoked (or never made
 * usable) where there is one. Everything the handlers log meanwhile, at DEBUG, is scanned for private keys
 * and ownership tokens.
 */

const DAY = 86_400_000;
let stack: StackHarness;
let core: LocalIotCore;
let deployed: DeployedStack;
let iot: IoTClient;
let registry: StackHarness['registry'];
let ca: KeyedCertificate;
let strangerCa: KeyedCertificate;
let endpoint: Endpoint;
let api: string;
let logs: LogCapture;
let outdir: string | undefined;
/** Every private key, ownership token and presigned-URL signature this file makes or receives: none may appear in a handler's log. */
const secrets = { privateKeys: [] as string[], tokens: [] as string[], bearer: [] as string[] };

beforeAll(async () => {
  // Installed first: the function containers start on first use and inherit the pipes.
  logs = captureHandlerLogs();
  stack = await startStackHarness({
    core: { lambdaTimeScale: 1_000, mqtt: { port: 0 } },
    deploy: { environment: { POWERTOOLS_LOG_LEVEL: 'DEBUG' }, modules: await bundles() },
  });
  ({ core, deployed, iot, registry } = stack);
  endpoint = stack.endpoint!;
  ca = await stack.registerCa('Security matrix CA');
  strangerCa = await createCa({ commonName: 'Somebody else’s CA' });
  api = core.endpoints.http!;
  // Every function's first container starts now, side by side: a cold start loads the TypeScript sources, and
  // a first request the SDK clients. The sample events change nothing here (their certificate and devices
  // are unknown to this stack; the claim is one more certificate nobody uses).
  const warmUps: Record<string, unknown> = {
    activateCertificate: loadEvent('certificate-registered'),
    preProvisioningHook: loadEvent('pre-provisioning-hook'),
    vendProvisioningClaim: loadEvent('provisioning-claim-request'),
    vendCertificate: loadEvent('vend-certificate-delete'),
  };
  await Promise.all(deployed.stack.functions.map((fn) => core.invokeFunction(functionArn(fn.name), warmUps[fn.name] ?? {}, 60_000).catch(() => undefined)));
}, 120_000);

/**
 * The handlers bundled as Lambda runs them (one CommonJS file each, made by esbuild): a container then
 * starts in a fraction of the time it takes to load the TypeScript sources, which keeps this file fast.
 */
async function bundles(): Promise<Record<string, { modulePath: string }>> {
  const dir = mkdtempSync(join(tmpdir(), 'security-bundles-'));
  outdir = dir;
  const functions = loadStack().functions;
  await build({
    entryPoints: Object.fromEntries(functions.map((fn) => [fn.name, resolve(PROJECT_ROOT, `${fn.modulePath}.ts`)])),
    outdir: dir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    logLevel: 'silent',
  });
  return Object.fromEntries(functions.map((fn) => [fn.name, { modulePath: join(dir, `${fn.name}.js`) }]));
}

const functionArn = (name: string) => `arn:aws:lambda:${core.endpoints.region}:${core.endpoints.accountId}:function:${deployed.stack.service}-${deployed.stack.stage}-${name}`;

afterAll(async () => {
  logs?.stop();
  await stack?.close();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

// ---- what an attempt observes ----

/** What the matrix records of one attempt. */
interface Observed {
  /** How the attempt ended for the attacker or the broken device. */
  refusal: string;
  /** The system's reason (registry, hook decision, HTTP body), where it gives one. */
  reason?: string;
  /** The status of the certificate the attempt brought or obtained; "not registered" / "none minted". */
  certificate: string;
  /** Whether that certificate can connect afterwards. */
  connects: boolean;
}

async function statusOf(certificateId: string | undefined): Promise<string> {
  if (!certificateId) return 'none';
  try {
    return (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status ?? 'unknown';
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return 'not registered';
    throw error;
  }
}

const certificateCount = async () => (await iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates?.length ?? 0;

async function canConnect(identity: Identity, clientId: string): Promise<boolean> {
  const { client } = await connectOnce(endpoint, identity, clientId);
  client?.end(true);
  return client !== undefined;
}

// ---- JITR ----

interface JitrSpec {
  subject: Subject;
  keySpec?: KeySpec;
  notBefore?: Date;
  notAfter?: Date;
  issuer?: 'stranger';
  registry?: 'allow' | 'block';
}

async function jitrDevice(spec: JitrSpec): Promise<{ certificate: KeyedCertificate; identity: Identity; deviceId: string }> {
  const issuer = spec.issuer === 'stranger' ? strangerCa : ca;
  const certificate = await issueCertificate(issuer, {
    subject: spec.subject,
    ...(spec.keySpec ? { keySpec: spec.keySpec } : {}),
    ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
    ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
  });
  secrets.privateKeys.push(certificate.privateKeyPem);
  const deviceId = spec.subject.serialNumber ?? spec.subject.commonName ?? 'no-id';
  if (spec.registry === 'allow') await registry.allow(deviceId, {}, new Date());
  if (spec.registry === 'block') await registry.block(deviceId, new Date());
  return { certificate, identity: { certificatePem: deviceChain(certificate, issuer), privateKeyPem: certificate.privateKeyPem }, deviceId };
}

/** What activateCertificate decided for a certificate (the local IoT Core keeps each function's results). */
function decisionFor(certificateId: string): { outcome?: string; reason?: string } | undefined {
  const found = core.results.filter((r) => (r.event as { certificateId?: string } | null)?.certificateId === certificateId && (r.result as { outcome?: string } | null)?.outcome !== 'ignored');
  return found.at(-1)?.result as { outcome?: string; reason?: string } | undefined;
}

/** A device's first connects over MQTT/TLS, as firmware makes them (back-off while pending). */
async function jitrAttempt(spec: JitrSpec): Promise<Observed> {
  const { certificate, identity, deviceId } = await jitrDevice(spec);
  const device = await runJitrDevice({ endpoint, identity, clientId: deviceId, maxAttempts: 3, backoffMs: 50, betweenAttempts: () => core.idle() });
  await core.idle();
  // A TLS refusal happens before any registration; the gateway names its reason without side effects.
  const handshake = core.gateway.verifyHandshake(splitPemChain(identity.certificatePem), endpoint.host);
  const decision = decisionFor(certificate.certificateId);
  return {
    refusal: device.connected ? 'connected' : handshake.ok ? 'refused at CONNECT' : 'refused at TLS',
    ...(handshake.ok ? (decision?.reason ? { reason: decision.reason } : {}) : { reason: handshake.reason }),
    certificate: await statusOf(certificate.certificateId),
    connects: await canConnect(identity, deviceId),
  };
}

/**
 * A certificate registered by other means than a first connect (AWS does not register an expired or
 * not-yet-valid certificate at TLS), whose registered event reaches the handler through the topic rule.
 */
async function registeredAnywayAttempt(spec: JitrSpec): Promise<Observed> {
  const { certificate, identity, deviceId } = await jitrDevice(spec);
  const account = core.defaultAccount;
  const record = account.certificates.autoRegister(new X509Certificate(certificate.certificatePem), account.certificates.describeCa(ca.certificateId));
  core.publish(account, `$aws/events/certificates/registered/${ca.certificateId}`, registeredEventOf(account, record));
  await core.idle();
  const decision = decisionFor(record.certificateId);
  return {
    refusal: 'decided by the handler',
    ...(decision?.reason ? { reason: decision.reason } : {}),
    certificate: await statusOf(certificate.certificateId),
    connects: await canConnect(identity, deviceId),
  };
}

// ---- vending and claims over the HTTP API ----

async function vend(deviceId: string, body: unknown = {}, how: 'signed' | 'unsigned' | 'forged' = 'signed'): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = `${api}/devices/${deviceId}/certificate`;
  const init = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  const response =
    how === 'unsigned'
      ? await fetch(url, init)
      : await signedFetch(url, init, how === 'forged' ? { accessKeyId: '123456789012', secretAccessKey: 'not-the-secret' } : undefined);
  const answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
  if (typeof answer.body.privateKey === 'string') secrets.privateKeys.push(answer.body.privateKey);
  return answer;
}

/** A vending call that must be refused: what it answered, and whether any certificate was minted. */
async function vendingAttempt(deviceId: string, body: unknown, how: 'signed' | 'unsigned' | 'forged' = 'signed'): Promise<Observed> {
  const before = await certificateCount();
  const answer = await vend(deviceId, body, how);
  const minted = (await certificateCount()) - before;
  const entry = await registry.get(deviceId);
  return {
    refusal: `HTTP ${answer.status}`,
    ...(typeof answer.body.reason === 'string' ? { reason: answer.body.reason } : {}),
    certificate: minted === 0 && !entry?.certificateId ? 'none minted' : `${minted} minted`,
    connects: false,
  };
}

async function claim(authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${api}/provisioning-claims`, { method: 'POST', headers: authorization ? { authorization } : {}, body: '{}' });
  const body = (await response.json()) as Record<string, unknown>;
  if (typeof body.privateKey === 'string') secrets.privateKeys.push(body.privateKey);
  return { status: response.status, body };
}

async function claimAttempt(authorization?: string): Promise<Observed> {
  const before = await certificateCount();
  const answer = await claim(authorization);
  const minted = (await certificateCount()) - before;
  return { refusal: `HTTP ${answer.status}`, certificate: minted === 0 ? 'none minted' : `${minted} minted`, connects: false };
}

// ---- fleet provisioning over MQTT ----

interface FleetSession {
  client: MqttClient;
  /** The certificate and key of the last create(-from-csr), and its ownership token. */
  created?: { certificateId: string; identity: Identity; token: string };
}

/** A device with a fresh claim from the HTTP API, connected with it. */
async function claimSession(clientId: string): Promise<FleetSession> {
  const vended = await claim(await core.issueToken('operator@example.com', { groups: ['technicians'] }));
  expect(vended.status).toBe(201);
  const { client, error } = await connectOnce(endpoint, { certificatePem: String(vended.body.certificatePem), privateKeyPem: String(vended.body.privateKey) }, clientId);
  if (!client) throw new Error(`claim connection refused: ${error}`);
  return { client };
}

async function createCertificate(session: FleetSession, api: 'create' | 'create-from-csr'): Promise<NonNullable<FleetSession['created']>> {
  const csr = api === 'create-from-csr' ? await createCsr({ commonName: 'fleet device' }) : undefined;
  const reply = csr
    ? await requestReply(session.client, '$aws/certificates/create-from-csr/json', { certificateSigningRequest: csr.csrPem })
    : await requestReply(session.client, '$aws/certificates/create/json', {});
  if (!reply.accepted) throw new Error(`create refused: ${JSON.stringify(reply.body)}`);
  const privateKeyPem = csr ? csr.privateKeyPem : String(reply.body.privateKey);
  const token = String(reply.body.certificateOwnershipToken);
  secrets.privateKeys.push(privateKeyPem);
  secrets.tokens.push(token);
  session.created = { certificateId: String(reply.body.certificateId), identity: { certificatePem: String(reply.body.certificatePem), privateKeyPem }, token };
  return session.created;
}

function registerThing(session: FleetSession, token: string, serial: string) {
  return requestReply(session.client, `$aws/provisioning-templates/${deployed.templateName}/provision/json`, { certificateOwnershipToken: token, parameters: { SerialNumber: serial } });
}

/** A device provisions itself by claim, end to end; returns its new certificate. */
async function provision(serial: string, api: 'create' | 'create-from-csr' = 'create-from-csr'): Promise<NonNullable<FleetSession['created']>> {
  const session = await claimSession(`claim-${serial}`);
  try {
    const created = await createCertificate(session, api);
    const registered = await registerThing(session, created.token, serial);
    if (!registered.accepted) throw new Error(`RegisterThing refused: ${JSON.stringify(registered.body)}`);
    return created;
  } finally {
    session.client.end(true);
  }
}

/** A RegisterThing that must be refused, from a device with its own fresh claim and certificate. */
async function fleetAttempt(serial: string, api: 'create' | 'create-from-csr' = 'create-from-csr'): Promise<Observed> {
  const session = await claimSession(`claim-${serial}-${Date.now()}`);
  try {
    const created = await createCertificate(session, api);
    const registered = await registerThing(session, created.token, serial);
    const decision = (await registry.get(serial))?.lastProvisioning;
    return {
      refusal: registered.accepted ? 'provisioned' : `RegisterThing ${String(registered.body.errorCode)}`,
      ...(decision?.certificateId === created.certificateId && decision.outcome === 'denied' ? { reason: decision.reason } : {}),
      certificate: await statusOf(created.certificateId),
      connects: await canConnect(created.identity, serial),
    };
  } finally {
    session.client.end(true);
  }
}

const thingPrincipals = async (thingName: string) => {
  try {
    return (await iot.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return [];
    throw error;
  }
};

/** Allow-lists the device with a key pinned that no attempt holds: what `devices import` records from the factory. */
async function pinAnotherKey(deviceId: string): Promise<void> {
  const client = createDocumentClient();
  try {
    const summary = await importRows({ client, tableName: deployed.tableName }, [{ line: 1, deviceId, pinnedKeySha256: randomBytes(32).toString('hex') }]);
    expect(summary.imported).toEqual([deviceId]);
  } finally {
    client.destroy();
  }
}

// ---- the matrix ----

interface Row {
  flow: 'JITR' | 'vending' | 'claims' | 'fleet';
  attempt: string;
  run: () => Promise<Observed & { victim?: unknown }>;
  expected: Partial<Observed> & { victim?: unknown };
}

const refusedAndRevoked = (reason: string) => ({ refusal: 'refused at CONNECT', reason, certificate: 'REVOKED', connects: false });
const refusedAtTls = (reason: string) => ({ refusal: 'refused at TLS', reason, certificate: 'not registered', connects: false });

const matrix: Row[] = [
  // JITR: what the TLS handshake refuses is never registered; what the handler refuses is revoked.
  { flow: 'JITR', attempt: 'unknown CA', run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-CA' }, issuer: 'stranger', registry: 'allow' }), expected: refusedAtTls('unknown-certificate-authority') },
  {
    flow: 'JITR',
    attempt: 'expired',
    run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-EXP' }, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY), registry: 'allow' }),
    expected: refusedAtTls('certificate-expired'),
  },
  {
    flow: 'JITR',
    attempt: 'not yet valid',
    run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-NYV' }, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY), registry: 'allow' }),
    expected: refusedAtTls('certificate-not-yet-valid'),
  },
  {
    flow: 'JITR',
    attempt: 'expired, registered by other means',
    run: () => registeredAnywayAttempt({ subject: { serialNumber: 'SEC-JITR-EXP2' }, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY), registry: 'allow' }),
    expected: { reason: 'certificate-expired', certificate: 'REVOKED', connects: false },
  },
  {
    flow: 'JITR',
    attempt: 'not yet valid, registered by other means',
    run: () => registeredAnywayAttempt({ subject: { serialNumber: 'SEC-JITR-NYV2' }, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY), registry: 'allow' }),
    expected: { reason: 'certificate-not-yet-valid', certificate: 'REVOKED', connects: false },
  },
  { flow: 'JITR', attempt: 'RSA-1024 key', run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-1024' }, keySpec: 'rsa-1024', registry: 'allow' }), expected: refusedAndRevoked('key-too-weak') },
  { flow: 'JITR', attempt: 'blocked', run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-BLOCKED' }, registry: 'block' }), expected: refusedAndRevoked('device-blocked') },
  { flow: 'JITR', attempt: 'not allow-listed', run: () => jitrAttempt({ subject: { serialNumber: 'SEC-JITR-STRANGER' } }), expected: refusedAndRevoked('device-not-allowlisted') },
  {
    flow: 'JITR',
    attempt: 'copied serial of a device with a pinned key, another key',
    run: async () => {
      await pinAnotherKey('SEC-JITR-PINNED');
      return jitrAttempt({ subject: { serialNumber: 'SEC-JITR-PINNED' } });
    },
    expected: refusedAndRevoked('key-not-pinned'),
  },
  {
    flow: 'JITR',
    attempt: 'no device id',
    run: () => jitrAttempt({ subject: { organization: 'Acme Devices' } }),
    expected: refusedAndRevoked('device-id-missing'),
  },

  // Vending: the CSR must name the device; unauthenticated calls never reach the handler.
  {
    flow: 'vending',
    attempt: 'CSR with the wrong subject',
    run: async () => {
      await registry.allow('SEC-VEND-CSR', {}, new Date());
      const csr = await createCsr({ serialNumber: 'SEC-VEND-OTHER' });
      secrets.privateKeys.push(csr.privateKeyPem);
      return vendingAttempt('SEC-VEND-CSR', { csr: csr.csrPem });
    },
    expected: { refusal: 'HTTP 400', reason: 'csr-subject-mismatch', certificate: 'none minted' },
  },
  {
    flow: 'vending',
    attempt: 'unauthenticated (unsigned) call',
    run: async () => {
      await registry.allow('SEC-VEND-UNSIGNED', {}, new Date());
      return vendingAttempt('SEC-VEND-UNSIGNED', {}, 'unsigned');
    },
    expected: { refusal: 'HTTP 403', certificate: 'none minted' },
  },
  {
    flow: 'vending',
    attempt: 'call signed with a wrong secret',
    run: async () => {
      await registry.allow('SEC-VEND-FORGED', {}, new Date());
      return vendingAttempt('SEC-VEND-FORGED', {}, 'forged');
    },
    expected: { refusal: 'HTTP 403', certificate: 'none minted' },
  },
  {
    flow: 'vending',
    attempt: 'blocked',
    run: async () => {
      await registry.block('SEC-VEND-BLOCKED', new Date());
      return vendingAttempt('SEC-VEND-BLOCKED', {});
    },
    expected: { refusal: 'HTTP 403', reason: 'device-blocked', certificate: 'none minted' },
  },
  { flow: 'vending', attempt: 'not allow-listed', run: () => vendingAttempt('SEC-VEND-STRANGER', {}), expected: { refusal: 'HTTP 403', reason: 'device-not-allowlisted', certificate: 'none minted' } },
  {
    flow: 'vending',
    attempt: 'pinned key, no CSR (AWS IoT would make the key)',
    run: async () => {
      await pinAnotherKey('SEC-VEND-PINNED');
      return vendingAttempt('SEC-VEND-PINNED', {});
    },
    expected: { refusal: 'HTTP 403', reason: 'key-not-pinned', certificate: 'none minted' },
  },
  {
    flow: 'vending',
    attempt: 'pinned key, CSR with another key',
    run: async () => {
      await pinAnotherKey('SEC-VEND-PINNED-CSR');
      const csr = await createCsr({ serialNumber: 'SEC-VEND-PINNED-CSR' });
      secrets.privateKeys.push(csr.privateKeyPem);
      return vendingAttempt('SEC-VEND-PINNED-CSR', { csr: csr.csrPem });
    },
    expected: { refusal: 'HTTP 403', reason: 'key-not-pinned', certificate: 'none minted' },
  },

  // Trusted-user claims: only a verified user gets a claim.
  { flow: 'claims', attempt: 'unauthenticated call (no token)', run: () => claimAttempt(), expected: { refusal: 'HTTP 401', certificate: 'none minted' } },
  {
    flow: 'claims',
    attempt: 'token with a forged signature',
    run: async () => {
      const [header, payload] = (await core.issueToken('operator@example.com', { groups: ['technicians'] })).split('.');
      return claimAttempt(`${header}.${payload}.${Buffer.from('forged').toString('base64url')}`);
    },
    expected: { refusal: 'HTTP 401', certificate: 'none minted' },
  },
  {
    flow: 'claims',
    attempt: 'signed-in user of no group (neither technicians nor operators)',
    run: async () => claimAttempt(await core.issueToken('visitor@example.com')),
    expected: { refusal: 'HTTP 403', certificate: 'none minted' },
  },

  // Fleet provisioning: the hook refuses; the new certificate stays PENDING_ACTIVATION and cannot connect.
  {
    flow: 'fleet',
    attempt: 'takeover of a fleet-provisioned device',
    run: async () => {
      await registry.allow('SEC-FLEET-VICTIM', {}, new Date());
      const victim = await provision('SEC-FLEET-VICTIM');
      const observed = await fleetAttempt('SEC-FLEET-VICTIM');
      return { ...observed, victim: { status: await statusOf(victim.certificateId), principals: (await thingPrincipals('SEC-FLEET-VICTIM')).length, connects: await canConnect(victim.identity, 'SEC-FLEET-VICTIM') } };
    },
    expected: { refusal: 'RegisterThing AccessDenied', reason: 'device-already-bound', certificate: 'PENDING_ACTIVATION', connects: false, victim: { status: 'ACTIVE', principals: 1, connects: true } },
  },
  {
    flow: 'fleet',
    attempt: 'takeover of a vended device',
    run: async () => {
      await registry.allow('SEC-FLEET-VENDED', {}, new Date());
      const vended = await vend('SEC-FLEET-VENDED');
      expect(vended.status).toBe(201);
      const observed = await fleetAttempt('SEC-FLEET-VENDED', 'create');
      return { ...observed, victim: { status: await statusOf(String(vended.body.certificateId)), principals: (await thingPrincipals('SEC-FLEET-VENDED')).length } };
    },
    expected: { refusal: 'RegisterThing AccessDenied', reason: 'device-already-bound', certificate: 'PENDING_ACTIVATION', connects: false, victim: { status: 'ACTIVE', principals: 1 } },
  },
  {
    flow: 'fleet',
    attempt: 'blocked serial',
    run: async () => {
      await registry.block('SEC-FLEET-BLOCKED', new Date());
      return fleetAttempt('SEC-FLEET-BLOCKED');
    },
    expected: { refusal: 'RegisterThing AccessDenied', reason: 'device-blocked', certificate: 'PENDING_ACTIVATION', connects: false },
  },
  {
    flow: 'fleet',
    attempt: 'serial with a pinned key, certificate with another key',
    run: async () => {
      await pinAnotherKey('SEC-FLEET-PINNED');
      return fleetAttempt('SEC-FLEET-PINNED');
    },
    expected: { refusal: 'RegisterThing AccessDenied', reason: 'key-not-pinned', certificate: 'PENDING_ACTIVATION', connects: false },
  },
  { flow: 'fleet', attempt: 'serial not allow-listed', run: () => fleetAttempt('SEC-FLEET-STRANGER'), expected: { refusal: 'RegisterThing AccessDenied', reason: 'device-not-allowlisted', certificate: 'PENDING_ACTIVATION', connects: false } },
  {
    flow: 'fleet',
    attempt: 'replayed ownership token (another device, another serial)',
    run: async () => {
      await registry.allow('SEC-FLEET-FIRST', {}, new Date());
      await registry.allow('SEC-FLEET-REPLAY', {}, new Date());
      const first = await provision('SEC-FLEET-FIRST', 'create');
      // An attacker who saw the token replays it from its own claim connection, for a serial it may provision.
      const attacker = await claimSession('claim-replayer');
      try {
        const replayed = await registerThing(attacker, first.token, 'SEC-FLEET-REPLAY');
        return {
          refusal: replayed.accepted ? 'provisioned' : `RegisterThing ${String(replayed.body.errorCode)}`,
          certificate: await statusOf(first.certificateId),
          connects: false,
          victim: { principalsOfReplayThing: (await thingPrincipals('SEC-FLEET-REPLAY')).length, principalsOfFirst: await thingPrincipals('SEC-FLEET-FIRST') },
        };
      } finally {
        attacker.client.end(true);
      }
    },
    // The certificate stays the first device's own (ACTIVE, on its thing only); no thing for the replay.
    expected: { refusal: 'RegisterThing InvalidCertificateOwnershipToken', certificate: 'ACTIVE', victim: { principalsOfReplayThing: 0, principalsOfFirst: [expect.stringContaining(':cert/')] } },
  },
  {
    flow: 'fleet',
    attempt: 'replayed ownership token that AWS IoT takes again: the hook decides',
    run: async () => {
      await registry.allow('SEC-FLEET-ORIGINAL', {}, new Date());
      await registry.allow('SEC-FLEET-SECOND', {}, new Date());
      const original = await provision('SEC-FLEET-ORIGINAL');
      // AWS documents an ownership token's lifetime (1 hour), not that it is good once: what the hook gets if
      // AWS IoT takes the token again, from another claim, for another serial.
      const replayer = await claim(await core.issueToken('operator@example.com', { groups: ['technicians'] }));
      const answer = (await core.invokeFunction(
        functionArn('preProvisioningHook'),
        {
          claimCertificateId: String(replayer.body.certificateId),
          certificateId: original.certificateId,
          certificatePem: original.identity.certificatePem,
          templateArn: `arn:aws:iot:${core.endpoints.region}:${core.endpoints.accountId}:provisioningtemplate/${deployed.templateName}`,
          clientId: 'claim-replayer-2',
          parameters: { SerialNumber: 'SEC-FLEET-SECOND' },
        },
        5_000,
      )) as { allowProvisioning: boolean };
      const second = await registry.get('SEC-FLEET-SECOND');
      return {
        refusal: answer.allowProvisioning ? 'allowed by the hook' : 'denied by the hook',
        ...(second?.lastProvisioning?.reason ? { reason: second.lastProvisioning.reason } : {}),
        certificate: await statusOf(original.certificateId),
        connects: await canConnect(original.identity, 'SEC-FLEET-ORIGINAL'),
        victim: { secondClaimedBy: second?.certificateId ?? null },
      };
    },
    expected: { refusal: 'denied by the hook', reason: 'certificate-not-pending', certificate: 'ACTIVE', connects: true, victim: { secondClaimedBy: null } },
  },
  {
    flow: 'fleet',
    attempt: 'replayed ownership token (same device, same serial)',
    run: async () => {
      await registry.allow('SEC-FLEET-AGAIN', {}, new Date());
      const session = await claimSession('claim-SEC-FLEET-AGAIN');
      try {
        const created = await createCertificate(session, 'create-from-csr');
        expect((await registerThing(session, created.token, 'SEC-FLEET-AGAIN')).accepted).toBe(true);
        const again = await registerThing(session, created.token, 'SEC-FLEET-AGAIN');
        return { refusal: again.accepted ? 'provisioned' : `RegisterThing ${String(again.body.errorCode)}`, certificate: await statusOf(created.certificateId), connects: true, victim: (await thingPrincipals('SEC-FLEET-AGAIN')).length };
      } finally {
        session.client.end(true);
      }
    },
    expected: { refusal: 'RegisterThing InvalidCertificateOwnershipToken', certificate: 'ACTIVE', victim: 1 },
  },
];

describe('security matrix', () => {
  it.each(matrix.map((row) => [row.flow, row.attempt, row] as const))('%s — %s: refused', async (_flow, _attempt, row) => {
    const observed = await row.run();
    expect(observed).toMatchObject(row.expected);
  });
});

describe('what the handlers log', () => {
  it('never logs a private key (PEM or body), an ownership token or a ResponseURL signature — across the matrix and a vending, claim, fleet and custom-resource flow', async () => {
    // The flows that succeed hand out the most secrets: keys generated by AWS IoT, claims, ownership tokens.
    await registry.allow('SEC-LOG-VEND', {}, new Date());
    expect((await vend('SEC-LOG-VEND')).status).toBe(201);
    await registry.allow('SEC-LOG-CSR', {}, new Date());
    const csr = await createCsr({ serialNumber: 'SEC-LOG-CSR' });
    secrets.privateKeys.push(csr.privateKeyPem);
    expect((await vend('SEC-LOG-CSR', { csr: csr.csrPem })).status).toBe(201);
    for (const [serial, how] of [['SEC-LOG-FLEET-1', 'create'], ['SEC-LOG-FLEET-2', 'create-from-csr']] as const) {
      await registry.allow(serial, {}, new Date());
      await provision(serial, how);
    }
    // Custom::DeviceCertificate writes a key to S3; read it back to know what must not be logged. Its
    // ResponseURL is presigned on AWS: the signature is a credential for the answer's object.
    const requestId = 'security-log-scan';
    const signature = randomBytes(32).toString('hex');
    secrets.bearer.push(signature);
    const answer = (await core.invokeFunction(
      functionArn('certificateResource'),
      {
        RequestType: 'Create',
        ResponseURL: `${core.cloudFormationResponseUrl(requestId)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature=${signature}`,
        StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/security/1',
        RequestId: requestId,
        LogicalResourceId: 'DeviceCertificate',
        ResourceType: 'Custom::DeviceCertificate',
        ResourceProperties: { ServiceToken: functionArn('certificateResource'), ThingName: 'SEC-LOG-CR' },
      },
      60_000,
    )) as { Status: string };
    expect(answer.Status).toBe('SUCCESS');
    expect(core.cloudFormationResponses.received(requestId)).toHaveLength(1);
    const s3 = new S3Client({ forcePathStyle: true });
    const object = await s3.send(new GetObjectCommand({ Bucket: deployed.certificateBucket, Key: 'SEC-LOG-CR/private.pem.key' }));
    secrets.privateKeys.push(await object.Body!.transformToString());
    s3.destroy();
    await core.idle();
    await logs.settle();

    // The capture saw the handlers at work (a scan of nothing proves nothing)...
    const messages = new Set(logs.lines.map((line) => (JSON.parse(line) as { message?: string }).message));
    for (const message of ['certificate vended', 'provisioning claim vended', 'provisioning allowed', 'provisioning denied', 'certificate rejected', 'device certificate created']) {
      expect([...messages]).toContain(message);
    }
    expect(secrets.privateKeys.length).toBeGreaterThan(20);
    expect(secrets.tokens.length).toBeGreaterThan(5);
    // ...and not one secret in any line.
    expect(findSecrets(logs.lines, secrets)).toEqual([]);
  });
});
