import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fetchRoleCredentials, type RoleCredentials } from '../device/credential-provider';
import { provisionByClaim } from '../device/fleet-provisioning';
import { connectOnce, connectWithBackoff, disconnect, publishAcknowledged, type Identity } from '../device/mqtt-connection';
import { issueCertificate } from '../lib/pki';
import { deviceIdSchema } from '../shared/registry/device-entry';
import { loadCaWithChain, parseDays, parseKeyType, type CaFilesOptions } from './ca';
import {
  AMAZON_ROOT_CA_FILE,
  AMAZON_ROOT_CA_URL,
  controlPlane,
  credentialsEndpoint,
  mqttEndpoint,
  registryEntry,
  type ControlPlane,
  type DeviceEndpointOptions,
} from './device-endpoints';
import { checkWritable, outputPath, readCertificate, readInput, readPrivateKey, writeOutputs } from './files';
import { CliError } from './target';

/**
 * `device issue|connect|provision|credentials`: what a device does, from the operator's terminal — get a
 * certificate from our CA, connect the way JITR needs (dropped first, back off, retry), provision itself by
 * claim, trade its certificate for AWS credentials. The wire work lives in device/, shared with the
 * sandbox's simulators.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

export function parseDeviceId(value: string | undefined, what = 'a device id'): string {
  const id = deviceIdSchema.safeParse(value);
  if (!id.success) throw new CliError(`${what} matching [a-zA-Z0-9:_-]{1,128} (the thing name) is required, got "${value ?? ''}"`);
  return id.data;
}

/** The seeds' file names: `<id>.key`, `<id>.crt`, and the chain devices present, `<id>AndCA.crt`. */
export const deviceFiles = (dir: string | undefined, id: string) => ({
  key: outputPath(dir, `${id}.key`),
  certificate: outputPath(dir, `${id}.crt`),
  chain: outputPath(dir, `${id}AndCA.crt`),
});

/** The device certificate, its CA, and the CAs above that CA but the self-signed root. */
function chainFile(devicePem: string, caPem: string, above: string[]): string {
  const intermediates = above.filter((pem) => {
    const certificate = new X509Certificate(pem);
    return !(certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey));
  });
  return [devicePem, caPem, ...intermediates].map((pem) => pem.trimEnd()).join('\n') + '\n';
}

export async function deviceIssue(
  deviceId: string | undefined,
  options: CaFilesOptions & { out?: string; days?: string; keyType?: string; force?: boolean },
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const id = parseDeviceId(deviceId);
  const keySpec = parseKeyType(options.keyType, 'rsa-2048');
  const days = parseDays(options.days, 365);
  const files = deviceFiles(options.out, id);
  checkWritable([files.key, files.certificate, files.chain], options.force);
  const { ca, above } = await loadCaWithChain(options);

  let notAfter = new Date(Date.now() + days * DAY_MS);
  if (notAfter > ca.certificate.notAfter) {
    notAfter = ca.certificate.notAfter;
    progress(`note: the CA expires ${notAfter.toISOString()}; the device certificate cannot outlive it and ends then`);
  }
  progress(`generating a key and a certificate for ${id}, signed by ${ca.certificate.subject}…`);
  // The id in both CN and serialNumber: admission reads it from either (deviceIdSource), as seed 000's
  // `-subj "/CN=…/serialNumber=…"` carries both.
  const device = await issueCertificate(ca, { subject: { commonName: id, serialNumber: id }, keySpec, notAfter });
  out(`issued a certificate for ${id} (CN=${id}, serialNumber=${id}), valid until ${device.certificate.notAfter.toISOString()}`);
  writeOutputs(
    [
      { label: 'private key', path: files.key, content: device.privateKeyPem, secret: true },
      { label: 'certificate', path: files.certificate, content: device.certificatePem },
      // Device certificate first, then the CA: what JITR needs the device to present (seed 001). Under an
      // intermediate, the intermediates up to the root (not the root itself, which TLS chains may omit,
      // RFC 8446 §4.4.2); the local IoT Core and AWS need only the signing CA registered.
      { label: above.length ? 'chain (device + intermediate CAs)' : 'chain (device + CA)', path: files.chain, content: chainFile(device.certificatePem, ca.certificatePem, above) },
    ],
    options.force,
    out,
  );
  out(`certificate id (AWS IoT registers it under this id on the first connect): ${device.certificateId}`);
  out(`next: iot-provisioner devices allow ${id}   then   iot-provisioner device connect ${id}${options.out ? ` --dir ${options.out}` : ''}`);
  return 0;
}

/** The device's certificate (chain preferred) and key: --cert/--key, or the files `device issue` wrote. */
function deviceIdentity(id: string | undefined, options: { dir?: string; cert?: string; key?: string }): Identity & { certificateId: string; certPath: string } {
  if (!id && (!options.cert || !options.key)) throw new CliError('name the device (<deviceId>) or pass both --cert and --key');
  const files = id ? deviceFiles(options.dir, id) : undefined;
  const certPath = options.cert ?? (existsSync(files!.chain) ? files!.chain : files!.certificate);
  const keyPath = options.key ?? files!.key;
  const hint = id ? `issue one with: iot-provisioner device issue ${id}, or pass --cert and --key` : undefined;
  const { pem, certificateId } = readCertificate(certPath, 'device certificate', hint);
  return { certificatePem: pem, privateKeyPem: readPrivateKey(keyPath, 'device private key', hint), certificateId, certPath };
}

const NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/;
/** The device refusing the server (wrong server CA, wrong host name) — not something a retry fixes. */
const SERVER_UNTRUSTED = /self[- ]signed certificate|unable to (verify|get local issuer)|Hostname\/IP does not match|altnames|certificate has expired/i;
const FINAL_STATUSES = new Set(['REVOKED', 'INACTIVE', 'PENDING_TRANSFER', 'REGISTER_INACTIVE']);

function parseSeconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3_600) throw new CliError(`${flag} must be a number of seconds from 1 to 3600, got "${value}"`);
  return seconds;
}

export interface ConnectOptions extends DeviceEndpointOptions {
  cert?: string;
  key?: string;
  topic?: string;
  message?: string;
  timeout?: string;
}

/** Why a certificate that keeps being refused is refused, in the operator's terms. */
async function explainStatus(plane: ControlPlane | undefined, status: string, certificateId: string, deviceId: string): Promise<string> {
  const entry = await registryEntry(plane, deviceId);
  const rejection = entry?.lastRejection?.certificateId === certificateId ? entry.lastRejection.reason : undefined;
  switch (status) {
    case 'REVOKED':
    case 'INACTIVE': {
      const why = rejection ? `the JITR handler refused the device (${rejection})` : 'it was refused or deactivated';
      const allow = rejection === 'device-not-allowlisted' ? `allow the device (iot-provisioner devices allow ${deviceId}), ` : '';
      return status === 'REVOKED'
        ? `certificate ${certificateId} is REVOKED: ${why}. A revoked certificate stays revoked: ${allow}issue a new certificate (iot-provisioner device issue ${deviceId} --force) and connect again.`
        : `certificate ${certificateId} is INACTIVE: ${why}. ${allow ? `${allow[0]!.toUpperCase()}${allow.slice(1, -2)}; an` : 'An'} operator can set it ACTIVE again (aws iot update-certificate --new-status ACTIVE).`;
    }
    case 'NOT_REGISTERED':
      return (
        `AWS IoT did not register certificate ${certificateId}: its CA is not registered here ACTIVE with auto-registration (iot-provisioner ca register), ` +
        `or the certificate is expired or not yet valid, or the chain file lacks the CA certificate`
      );
    default:
      return `certificate ${certificateId} is ${status}`;
  }
}

export async function deviceConnect(
  deviceId: string | undefined,
  options: ConnectOptions,
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const id = parseDeviceId(deviceId, 'the thing name (the MQTT client id)');
  const timeoutSeconds = parseSeconds(options.timeout, '--timeout', 60);
  const identity = deviceIdentity(id, options);
  const topic = options.topic ?? `device/${id}/telemetry`;
  const message = options.message ?? JSON.stringify({ message: `hello from ${id}`, at: new Date().toISOString() });
  const plane = await controlPlane(options);
  try {
    const endpoint = await mqttEndpoint(options, plane, progress);
    progress(`connecting to ${endpoint.host}:${endpoint.port}${endpoint.servername ? ` (SNI ${endpoint.servername})` : ''} over MQTT ${endpoint.mqtt} as ${id} with ${identity.certPath}…`);
    const started = Date.now();
    let lastStatus: string | undefined;
    const explain = (status: string) => explainStatus(plane, status, identity.certificateId, id);
    let canAsk = plane !== undefined;
    const statusNow = async (): Promise<string | undefined> => {
      if (!canAsk) return undefined;
      try {
        return await plane!.operator.certificateStatus(identity.certificateId);
      } catch (error) {
        canAsk = false;
        progress(`(cannot check the certificate's status: ${(error as Error).name}; continuing without)`);
        return undefined;
      }
    };
    let stopped: string | undefined;
    const result = await connectWithBackoff({
      endpoint,
      identity,
      clientId: id,
      deadline: started + timeoutSeconds * 1000,
      backoff: { initialDelayMs: 500, maxDelayMs: 8_000 },
      afterRefusal: async ({ attempt, error, nextDelayMs }) => {
        if (NETWORK.test(error)) return { stop: `cannot reach ${endpoint.host}:${endpoint.port} (${error})` };
        if (SERVER_UNTRUSTED.test(error)) {
          return {
            stop: `the server's certificate is not trusted (${error}): ${plane?.target.local ? "the local IoT Core's server CA is its root CA (leave out --ca-file)" : `AWS IoT's server CA is Amazon Root CA 1 (--ca-file ${AMAZON_ROOT_CA_FILE}, from ${AMAZON_ROOT_CA_URL})`}`,
          };
        }
        const status = await statusNow();
        const wait = `retrying in ${((nextDelayMs ?? 0) / 1000).toFixed(1)} s`;
        if (status && FINAL_STATUSES.has(status)) return { stop: await explain(status) };
        // JITR registers the certificate on the first CONNECT; still unknown after a few tries, it never will be.
        if (status === 'NOT_REGISTERED' && attempt >= 3) return { stop: await explain(status) };
        // ACTIVE twice and still refused: not a pending activation but the policy (client id = thing name, thing attached).
        if (status === 'ACTIVE' && lastStatus === 'ACTIVE') {
          return { stop: `certificate ${identity.certificateId} is ACTIVE but the connection is refused (${error}): the device policy lets a certificate connect only as the thing attached to it — is ${id} that thing?` };
        }
        lastStatus = status;
        const why =
          status === 'PENDING_ACTIVATION'
            ? 'certificate PENDING_ACTIVATION: registered by JITR, waiting for the handler to activate it'
            : status
              ? `certificate ${status === 'NOT_REGISTERED' ? 'not registered' : status}`
              : 'probably pending activation (first connect of a JITR device)';
        progress(`attempt ${attempt}: refused (${error}); ${why}; ${wait}`);
        return undefined;
      },
    });
    if (!result.client) {
      if (result.gaveUp?.reason === 'stopped') stopped = result.gaveUp.detail;
      if (!stopped) {
        const status = await statusNow();
        const last = result.errors.at(-1) ?? 'refused';
        stopped =
          status && (FINAL_STATUSES.has(status) || status === 'NOT_REGISTERED')
            ? await explain(status)
            : `still refused after ${result.attempts} attempts in ${((Date.now() - started) / 1000).toFixed(0)} s (last: ${last})` +
              (status === 'PENDING_ACTIVATION'
                ? `; the certificate is still PENDING_ACTIVATION: the JITR handler has not decided (check its logs and the failure queue), or raise --timeout`
                : status
                  ? `; certificate ${status}`
                  : '');
      }
      throw new CliError(`${id} could not connect: ${stopped}`, { exitCode: 1 });
    }
    const client = result.client;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    out(`connected as ${id} after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'} (${seconds} s)`);
    try {
      await publishAcknowledged(client, topic, message);
    } catch (error) {
      throw new CliError(`${id} connected, but the publish to ${topic} failed: ${(error as Error).message}. The stack's device policy allows device/${id}/* and the thing's shadow topics.`, {
        exitCode: 1,
      });
    } finally {
      await disconnect(client);
    }
    out(`published ${Buffer.byteLength(message)} bytes to ${topic} (QoS 1, acknowledged)`);
    return 0;
  } finally {
    plane?.close();
  }
}

function parseParameters(pairs: string[] = []): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--parameter expects name=value, got "${pair}"`);
    parameters[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return parameters;
}

export interface ProvisionOptions extends DeviceEndpointOptions {
  template?: string;
  claim?: string;
  claimKey?: string;
  csr?: string;
  parameter?: string[];
  name?: string;
  out?: string;
  force?: boolean;
  clientId?: string;
  timeout?: string;
}

export async function deviceProvision(options: ProvisionOptions, out: (line: string) => void, progress: (line: string) => void): Promise<number> {
  if (!options.claim || !options.claimKey) throw new CliError('--claim <claim certificate PEM> and --claim-key <its private key> are required');
  const parameters = parseParameters(options.parameter);
  const base = options.name ?? parameters.SerialNumber;
  if (!base) throw new CliError('name the output files: --name <name>, or pass --parameter SerialNumber=<serial> (the files are then <serial>.crt and <serial>.key)');
  const name = parseDeviceId(base, '--name');
  const timeoutMs = parseSeconds(options.timeout, '--timeout', 30) * 1000;
  const claim: Identity = {
    certificatePem: readCertificate(options.claim, 'claim certificate').pem,
    privateKeyPem: readPrivateKey(options.claimKey, 'claim private key'),
  };
  const csrPem = options.csr ? readInput(options.csr, 'CSR') : undefined;
  if (csrPem && !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) throw new CliError(`--csr ${options.csr} is not a PEM certificate request`);
  const files = deviceFiles(options.out, name);
  // The key AWS generates is returned once: refuse up front rather than lose it afterwards.
  checkWritable(csrPem ? [files.certificate] : [files.certificate, files.key], options.force);

  const plane = await controlPlane(options);
  try {
    const templateName = options.template ?? plane?.target.templateName;
    if (!templateName) throw new CliError('--template <fleet provisioning template name> is required');
    const endpoint = await mqttEndpoint(options, plane, progress);
    const clientId = options.clientId ?? `provision-${name}`.slice(0, 128);
    progress(`connecting to ${endpoint.host}:${endpoint.port} over MQTT ${endpoint.mqtt} with the claim certificate as ${clientId}…`);
    const { client, error } = await connectOnce(endpoint, claim, clientId, timeoutMs);
    if (!client) {
      throw new CliError(`the claim certificate was refused (${error}): a claim from CreateProvisioningClaim is valid for 5 minutes; a long-lived claim needs a policy for the fleet-provisioning topics`, { exitCode: 1 });
    }
    let result;
    try {
      progress(csrPem ? 'CreateCertificateFromCsr (the key stays with you)…' : 'CreateKeysAndCertificate (AWS IoT generates the key)…');
      result = await provisionByClaim(client, { templateName, parameters, ...(csrPem ? { csrPem } : {}), timeoutMs });
    } finally {
      await disconnect(client);
    }
    if (result.outcome === 'refused') {
      const serial = parameters.SerialNumber;
      const decision = (await registryEntry(plane, serial))?.lastProvisioning;
      const reason = decision?.outcome === 'denied' && decision.reason ? ` — the pre-provisioning hook's reason: ${decision.reason}` : '';
      const step = result.step === 'create' ? (csrPem ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate') : `RegisterThing (template ${templateName})`;
      const hint =
        result.errorCode === 'SubscriptionRefused' || result.errorCode === 'ConnectionClosed'
          ? `; the claim may only use its own template's topics — is ${templateName} its template?`
          : result.errorCode === 'AccessDenied' && serial && !reason
            ? `; see: iot-provisioner devices show ${serial}`
            : '';
      throw new CliError(`${step} was rejected: ${result.errorCode}${result.errorMessage ? ` (${result.errorMessage})` : ''}${reason}${hint}`, { exitCode: 1 });
    }
    out(`provisioned thing ${result.thingName} with template ${templateName}; certificate ${result.certificateId} is ACTIVE`);
    writeOutputs(
      [
        { label: 'certificate', path: files.certificate, content: result.certificatePem },
        ...(result.privateKeyPem ? [{ label: 'private key', path: files.key, content: result.privateKeyPem, secret: true }] : []),
      ],
      options.force,
      out,
    );
    const keyPath = result.privateKeyPem ? files.key : '<the key of your CSR>';
    out(`next: iot-provisioner device connect ${result.thingName} --cert ${files.certificate} --key ${keyPath}${options.local ? ' --local' : ''}`);
    return 0;
  } finally {
    plane?.close();
  }
}

export interface CredentialsOptions extends DeviceEndpointOptions {
  roleAlias?: string;
  thingName?: string;
  cert?: string;
  key?: string;
  format?: string;
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

function formatCredentials(credentials: RoleCredentials, format: string): string {
  switch (format) {
    case 'json':
      return JSON.stringify({ credentials }, null, 2);
    case 'env':
      return [
        `export AWS_ACCESS_KEY_ID=${shellQuote(credentials.accessKeyId)}`,
        `export AWS_SECRET_ACCESS_KEY=${shellQuote(credentials.secretAccessKey)}`,
        `export AWS_SESSION_TOKEN=${shellQuote(credentials.sessionToken)}`,
        `# expires ${credentials.expiration}`,
      ].join('\n');
    default:
      // The AWS CLI/SDK `credential_process` contract.
      return JSON.stringify({
        Version: 1,
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: credentials.expiration,
      });
  }
}

export async function deviceCredentials(
  deviceId: string | undefined,
  options: CredentialsOptions,
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const format = options.format ?? 'json';
  if (!['json', 'env', 'process'].includes(format)) throw new CliError(`--format must be json, env or process, got "${format}"`);
  const id = deviceId === undefined ? undefined : parseDeviceId(deviceId);
  const thingName = options.thingName ?? id;
  if (thingName !== undefined) parseDeviceId(thingName, '--thing-name');
  const identity = deviceIdentity(id, options);
  const plane = await controlPlane(options);
  try {
    const roleAlias = options.roleAlias ?? plane?.target.roleAlias;
    if (!roleAlias) throw new CliError('--role-alias <alias> is required');
    const { url, caPem, servername } = await credentialsEndpoint(options, plane, progress);
    progress(`GET ${url}/role-aliases/${roleAlias}/credentials${thingName ? ` (x-amzn-iot-thingname: ${thingName})` : ''} with ${identity.certPath}…`);
    let answer;
    try {
      answer = await fetchRoleCredentials({ endpoint: url, roleAlias, ...(thingName ? { thingName } : {}), identity, ...(caPem ? { caPem } : {}), ...(servername ? { servername } : {}) });
    } catch (error) {
      throw new CliError(`the credential provider at ${url} could not be reached or refused the TLS handshake: ${(error as Error).message}`, { exitCode: 1 });
    }
    if (answer.status !== 200 || !('credentials' in answer)) {
      const message = 'message' in answer ? answer.message : '';
      const hint =
        answer.status === 403
          ? /thing/i.test(message)
            ? `: --thing-name ${thingName} must name a thing attached to this certificate`
            : /role alias|assume/i.test(message)
              ? `: the certificate's policy must allow iot:AssumeRoleWithCertificate on rolealias/${roleAlias}`
              : /ACTIVE/.test(message)
                ? ': the certificate must be ACTIVE (connect it first so that JITR activates it)'
                : ''
          : answer.status === 404
            ? `: is ${roleAlias} a role alias of this account? (aws iot list-role-aliases)`
            : '';
      throw new CliError(`the credential provider refused (${answer.status}: ${message})${hint}`, { exitCode: 1 });
    }
    out(formatCredentials(answer.credentials, format));
    progress(`credentials of role alias ${roleAlias}, valid until ${answer.credentials.expiration}`);
    return 0;
  } finally {
    plane?.close();
  }
}
