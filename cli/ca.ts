import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createCa, createIntermediateCa, issueVerificationCertificate, loadKeyedCertificate, type KeyedCertificate, type KeySpec } from '../lib/pki';
import { createIotClient } from '../shared/aws/clients';
import { checkWritable, outputPath, readCertificate, readInput, readPrivateKey, writeOutputs } from './files';
import { IotOperator, type CaMode, type CaState } from './iot-operator';
import { CliError, useTarget, type TargetOptions } from './target';

/**
 * `ca create` and `ca register`: the certificate authority behind JITR (seeds 000/001). The CA key stays
 * on the operator's machine; AWS IoT only ever sees the CA certificate and, in DEFAULT mode, a
 * verification certificate signed with the key (aws-iot-reference §2).
 *
 * `ca create --intermediate-of <dir>` makes a signing CA under the CA in <dir> (a root, or an intermediate
 * for a third level), as production PKIs sign devices. That signing CA is the one to register: AWS IoT
 * wants "the signing CA … not any other CAs in the hierarchy"
 * (https://docs.aws.amazon.com/iot/latest/developerguide/device-certs-your-own.html).
 */

export const CA_CERT_FILE = 'rootCA.pem';
export const CA_KEY_FILE = 'rootCA.key';
/** An intermediate's directory: its certificate and key, and the CAs above it (parent first, root last). */
export const INTERMEDIATE_CERT_FILE = 'intermediateCA.pem';
export const INTERMEDIATE_KEY_FILE = 'intermediateCA.key';
export const INTERMEDIATE_CHAIN_FILE = 'intermediateCA-chain.pem';
const DAY_MS = 24 * 60 * 60 * 1000;

export const KEY_TYPES: Record<string, KeySpec> = { 'rsa-2048': 'rsa-2048', 'ec-p256': 'ec-p256', 'ec-p384': 'ec-p384' };

export function parseKeyType(value: string | undefined, fallback: KeySpec): KeySpec {
  if (value === undefined) return fallback;
  const spec = KEY_TYPES[value];
  if (!spec) throw new CliError(`--key-type must be one of ${Object.keys(KEY_TYPES).join(', ')} (AWS IoT accepts RSA ≥ 2048 and EC P-256/P-384), got "${value}"`);
  return spec;
}

export function parseDays(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new CliError(`--days must be a whole number of days from 1 to 36500, got "${value}"`);
  return days;
}

function parseCommonName(value: string | undefined, fallback: string): string {
  const commonName = value ?? fallback;
  if (!/^[^/=,+"\\<>;]{1,64}$/.test(commonName)) throw new CliError('--name must be 1-64 characters without / = , + " \\ < > ;');
  return commonName;
}

const describeKey = (spec: KeySpec) => (spec.startsWith('rsa') ? `RSA ${spec.slice(4)}` : `EC ${spec.slice(3).toUpperCase().replace('P', 'P-')}`);

export async function caCreate(
  options: { out?: string; name?: string; days?: string; keyType?: string; force?: boolean; intermediateOf?: string },
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  if (options.intermediateOf !== undefined) return intermediateCreate({ ...options, intermediateOf: options.intermediateOf }, out, progress);
  const keySpec = parseKeyType(options.keyType, 'rsa-2048');
  // A CA must outlive the device certificates it signs; 10 years, where the seeds' 1024 days are a demo.
  const days = parseDays(options.days, 3650);
  const commonName = parseCommonName(options.name, 'MyDeviceRootCA');
  const certPath = outputPath(options.out, CA_CERT_FILE);
  const keyPath = outputPath(options.out, CA_KEY_FILE);
  checkWritable([certPath, keyPath], options.force);

  progress(`generating an ${describeKey(keySpec)} key and a self-signed CA certificate (CN=${commonName}, ${days} days)…`);
  const ca = await createCa({ commonName, keySpec, notAfter: new Date(Date.now() + days * DAY_MS) });
  out(`created CA "${commonName}" (${describeKey(keySpec)}), valid until ${ca.certificate.notAfter.toISOString()}`);
  writeOutputs(
    [
      { label: 'CA certificate', path: certPath, content: ca.certificatePem },
      { label: 'CA private key', path: keyPath, content: ca.privateKeyPem, secret: true },
    ],
    options.force,
    out,
  );
  out(`CA certificate id (AWS IoT's id once registered): ${ca.certificateId}`);
  out(`next: iot-provisioner ca register --mode sni-only --ca-dir ${options.out ?? '.'}   (add --local for the local IoT Core)`);
  return 0;
}

export interface CaFilesOptions {
  caDir?: string;
  caCert?: string;
  caKey?: string;
}

/** The CA a directory holds: a root (`ca create`), else an intermediate (`ca create --intermediate-of`). */
function caDirFiles(dir: string | undefined): { cert: string; key: string; chain?: string } {
  const root = { cert: outputPath(dir, CA_CERT_FILE), key: outputPath(dir, CA_KEY_FILE) };
  const intermediate = { cert: outputPath(dir, INTERMEDIATE_CERT_FILE), key: outputPath(dir, INTERMEDIATE_KEY_FILE), chain: outputPath(dir, INTERMEDIATE_CHAIN_FILE) };
  const hasIntermediate = existsSync(intermediate.cert);
  if (hasIntermediate && existsSync(root.cert)) {
    throw new CliError(`${outputPath(dir, '.')} holds both ${CA_CERT_FILE} and ${INTERMEDIATE_CERT_FILE}; name the CA with --ca-cert and --ca-key`);
  }
  return hasIntermediate ? intermediate : root;
}

const caCertPath = (o: CaFilesOptions) => o.caCert ?? caDirFiles(o.caDir).cert;
const caKeyPath = (o: CaFilesOptions) => o.caKey ?? caDirFiles(o.caDir).key;
const CREATE_HINT = 'create one with: iot-provisioner ca create --out <dir>   (or point --ca-dir / --ca-cert / --ca-key at your own)';

/** The CA certificate and key (ours or openssl's), checked to belong together. */
export async function loadCa(options: CaFilesOptions): Promise<KeyedCertificate> {
  const certPath = caCertPath(options);
  const keyPath = caKeyPath(options);
  const { pem } = readCertificate(certPath, 'CA certificate', CREATE_HINT);
  const keyPem = readPrivateKey(keyPath, 'CA private key', CREATE_HINT);
  try {
    return await loadKeyedCertificate(pem, keyPem);
  } catch (error) {
    throw new CliError(`cannot use ${certPath} with ${keyPath}: ${(error as Error).message}`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA and the certificates above it (parent first, root last): none for a root or a --ca-cert, the
 * intermediate's chain file for a directory made by `ca create --intermediate-of`.
 */
export async function loadCaWithChain(options: CaFilesOptions): Promise<{ ca: KeyedCertificate; above: string[] }> {
  const ca = await loadCa(options);
  const chainPath = options.caCert === undefined ? caDirFiles(options.caDir).chain : undefined;
  if (!chainPath) return { ca, above: [] };
  const above = readInput(chainPath, 'intermediate CA chain', `it is written by: iot-provisioner ca create --intermediate-of <dir>`).match(PEM_CERTIFICATE) ?? [];
  // The chain must lead from this CA up: each certificate issued the one before it.
  let child = new X509Certificate(ca.certificatePem);
  for (const pem of above) {
    const parent = new X509Certificate(pem);
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CliError(`${chainPath} does not lead up from ${caCertPath(options)}: ${parent.subject} did not issue ${child.subject}`);
    }
    child = parent;
  }
  if (above.length === 0) throw new CliError(`${chainPath} holds no certificate; it should hold the CAs above ${caCertPath(options)}`);
  return { ca, above };
}

/** `ca create --intermediate-of <dir>`: a signing CA under the CA in <dir>, in its own directory. */
async function intermediateCreate(
  options: { out?: string; name?: string; days?: string; keyType?: string; force?: boolean; intermediateOf: string },
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const keySpec = parseKeyType(options.keyType, 'rsa-2048');
  const days = parseDays(options.days, 1825);
  const commonName = parseCommonName(options.name, 'MyDeviceIssuingCA');
  if (outputPath(options.out, '.') === outputPath(options.intermediateOf, '.')) {
    throw new CliError('--out must be another directory than --intermediate-of: each CA has its own directory');
  }
  const files = { cert: outputPath(options.out, INTERMEDIATE_CERT_FILE), key: outputPath(options.out, INTERMEDIATE_KEY_FILE), chain: outputPath(options.out, INTERMEDIATE_CHAIN_FILE) };
  checkWritable([files.cert, files.key, files.chain], options.force);
  const { ca: parent, above } = await loadCaWithChain({ caDir: options.intermediateOf });
  if (!new X509Certificate(parent.certificatePem).ca) {
    throw new CliError(`${caCertPath({ caDir: options.intermediateOf })} is not a CA certificate (basicConstraints CA:TRUE); it cannot sign another CA`);
  }

  let notAfter = new Date(Date.now() + days * DAY_MS);
  if (notAfter > parent.certificate.notAfter) {
    notAfter = parent.certificate.notAfter;
    progress(`note: ${parent.certificate.subject} expires ${notAfter.toISOString()}; the intermediate cannot outlive it and ends then`);
  }
  progress(`generating an ${describeKey(keySpec)} key and an intermediate CA certificate (CN=${commonName}), signed by ${parent.certificate.subject}…`);
  const intermediate = await createIntermediateCa(parent, { commonName, keySpec, notAfter });
  const level = above.length + 2;
  out(`created intermediate CA "${commonName}" (${describeKey(keySpec)}) under ${parent.certificate.subject}, ${level} levels with the devices it signs, valid until ${intermediate.certificate.notAfter.toISOString()}`);
  writeOutputs(
    [
      { label: 'CA certificate', path: files.cert, content: intermediate.certificatePem },
      { label: 'CA private key', path: files.key, content: intermediate.privateKeyPem, secret: true },
      { label: 'CAs above it', path: files.chain, content: [parent.certificatePem, ...above].map((pem) => pem.trimEnd()).join('\n') + '\n' },
    ],
    options.force,
    out,
  );
  out(`CA certificate id (AWS IoT's id once registered): ${intermediate.certificateId}`);
  out(`register this signing CA, not the CAs above it (AWS IoT wants the CA that signs the device certificates):`);
  out(`next: iot-provisioner ca register --mode sni-only --ca-dir ${options.out ?? '.'}   then   iot-provisioner device issue <deviceId> --ca-dir ${options.out ?? '.'}`);
  return 0;
}

export function parseCaMode(mode: string | undefined): CaMode {
  switch (mode?.toLowerCase().replace('_', '-')) {
    case 'sni-only':
      return 'SNI_ONLY';
    case 'default':
      return 'DEFAULT';
    default:
      throw new CliError(
        `--mode sni-only|default is required${mode ? `, got "${mode}"` : ''}: sni-only lets the same CA be registered in any number of accounts (devices must send SNI); default is one account per region and proves you hold the CA key`,
      );
  }
}

export async function caRegister(
  options: CaFilesOptions & TargetOptions & { mode?: string },
  out: (line: string) => void,
  progress: (line: string) => void,
): Promise<number> {
  const mode = parseCaMode(options.mode);
  const certPath = caCertPath(options);
  // SNI_ONLY needs the certificate only; DEFAULT needs the key to sign the verification certificate.
  const ca = mode === 'DEFAULT' ? await loadCa(options) : undefined;
  const caPem = ca?.certificatePem ?? readCertificate(certPath, 'CA certificate', CREATE_HINT).pem;
  const caId = readCertificate(certPath, 'CA certificate').certificateId;

  const target = await useTarget(options);
  const iot = createIotClient();
  const operator = new IotOperator(iot);
  try {
    let verificationCertificatePem: string | undefined;
    if (ca) {
      progress(`fetching this account's registration code (GetRegistrationCode)…`);
      const code = await operator.registrationCode();
      progress(`signing a verification certificate (CN=${code}) with ${caKeyPath(options)}…`);
      verificationCertificatePem = (await issueVerificationCertificate(ca, code)).certificatePem;
    }
    progress(`registering ${certPath} in ${mode} mode, ACTIVE, auto-registration on (${target.description})…`);
    let state: CaState | undefined;
    try {
      await operator.registerCa({ caCertificatePem: caPem, mode, ...(verificationCertificatePem ? { verificationCertificatePem } : {}) });
      out(`registered CA ${caId}`);
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'RegistrationCodeValidationException') {
        throw new CliError(`AWS IoT refused the verification certificate: ${(error as Error).message} (the registration code changes after DeleteRegistrationCode; run the command again)`, { exitCode: 1 });
      }
      if (name === 'CertificateValidationException') {
        throw new CliError(`AWS IoT refused the CA certificate: ${(error as Error).message}`, { exitCode: 1 });
      }
      if (name !== 'ResourceAlreadyExistsException') throw error;
      // Registering again is not an error for us: make sure it is ACTIVE with auto-registration, as asked.
      state = await operator.describeCa(caId);
      if (!state) {
        throw new CliError(
          `this CA is already registered in DEFAULT mode by another account in this region (DEFAULT allows one account per region); register it here with --mode sni-only`,
          { exitCode: 1 },
        );
      }
      out(`CA ${caId} was already registered in this account`);
      if (state.certificateMode !== mode) {
        out(`note: it is registered in ${state.certificateMode} mode, not ${mode}; to change the mode, deactivate and delete it (aws iot delete-ca-certificate) and register it again`);
      }
      await operator.enableCa(caId, { activate: state.status !== 'ACTIVE', enableAutoRegistration: state.autoRegistrationStatus !== 'ENABLE' });
    }
    state = await operator.describeCa(caId);
    if (!state) throw new CliError(`CA ${caId} is not visible after registering it; try again`, { exitCode: 1 });
    out(`  arn                ${state.certificateArn}`);
    out(`  status             ${state.status}`);
    out(`  auto-registration  ${state.autoRegistrationStatus}`);
    out(`  mode               ${state.certificateMode}${state.certificateMode === 'SNI_ONLY' ? ' (devices must send SNI = the account endpoint; the device SDKs and `device connect` do)' : ''}`);
    out(`JITR now registers certificates signed by this CA on their first connect.`);
    out(
      target.local
        ? `to accept devices of this CA only: npm run emulator -- --param caCertificateIds=${caId}`
        : `to accept devices of this CA only: npx serverless deploy --stage ${target.stage} --param="caCertificateIds=${caId}"   (the stage's caCertificateIds parameter)`,
    );
    return 0;
  } finally {
    iot.destroy();
  }
}
