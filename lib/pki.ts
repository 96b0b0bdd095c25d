import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Certificates for the sandbox and tests, made with @peculiar/x509 (no openssl needed): a CA, device
 * certificates with the subject, key and validity each case needs, and DEFAULT-mode verification
 * certificates. Private keys stay in memory unless a caller writes them to a git-ignored directory.
 */

x509.cryptoProvider.set(webcrypto as never);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type KeySpec = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-1024' | 'rsa-2048';

const ALGORITHMS: Record<KeySpec, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'ec-p521': { name: 'ECDSA', namedCurve: 'P-521' },
  'rsa-1024': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

const signingAlgorithm = (spec: KeySpec) =>
  spec.startsWith('ec') ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

export interface KeyedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** AWS IoT's certificate id: SHA-256 of the DER. */
  certificateId: string;
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
  keySpec: KeySpec;
}

async function generateKeys(spec: KeySpec): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHMS[spec], true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function keyed(certificate: x509.X509Certificate, keys: CryptoKeyPair, keySpec: KeySpec): Promise<KeyedCertificate> {
  return {
    certificatePem: certificate.toString('pem'),
    privateKeyPem: await privateKeyPem(keys),
    certificateId: createHash('sha256').update(Buffer.from(certificate.rawData)).digest('hex'),
    certificate,
    keys,
    keySpec,
  };
}

const DAY = 24 * 60 * 60 * 1000;
let serial = 1;
const nextSerial = () => (Date.now() * 1000 + serial++).toString(16).padStart(16, '0');

/** Subject attributes by OID, so `serialNumber` (2.5.4.5) is encoded as the X.520 attribute it is. */
function subjectName(subject: { commonName?: string; serialNumber?: string; organization?: string }): x509.JsonName {
  const name: x509.JsonName = [];
  if (subject.organization) name.push({ '2.5.4.10': [subject.organization] });
  if (subject.commonName) name.push({ '2.5.4.3': [subject.commonName] });
  if (subject.serialNumber) name.push({ '2.5.4.5': [subject.serialNumber] });
  return name;
}

export async function createCa(options: {
  commonName: string;
  keySpec?: KeySpec;
  notBefore?: Date;
  notAfter?: Date;
}): Promise<KeyedCertificate> {
  const keySpec = options.keySpec ?? 'ec-p256';
  const keys = await generateKeys(keySpec);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: subjectName({ commonName: options.commonName }),
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 3650 * DAY),
    signingAlgorithm: signingAlgorithm(keySpec),
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return keyed(certificate, keys, keySpec);
}

/**
 * A subordinate (intermediate) CA signed by `parent`, as production PKIs and AWS Private CA subordinates
 * sign devices: AWS IoT wants this signing CA registered, "not any other CAs in the hierarchy"
 * (https://docs.aws.amazon.com/iot/latest/developerguide/device-certs-your-own.html). It cannot outlive
 * its parent.
 */
export async function createIntermediateCa(
  parent: KeyedCertificate,
  options: { commonName: string; keySpec?: KeySpec; notBefore?: Date; notAfter?: Date },
): Promise<KeyedCertificate> {
  const keySpec = options.keySpec ?? 'ec-p256';
  const keys = await generateKeys(keySpec);
  const notAfter = options.notAfter ?? new Date(Date.now() + 1825 * DAY);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: subjectName({ commonName: options.commonName }),
    issuer: parent.certificate.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: notAfter > parent.certificate.notAfter ? parent.certificate.notAfter : notAfter,
    signingAlgorithm: signingAlgorithm(parent.keySpec),
    publicKey: keys.publicKey,
    signingKey: parent.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.AuthorityKeyIdentifierExtension.create(parent.certificate),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return keyed(certificate, keys, keySpec);
}

export async function issueCertificate(
  ca: KeyedCertificate,
  options: {
    subject: { commonName?: string; serialNumber?: string; organization?: string };
    keySpec?: KeySpec;
    notBefore?: Date;
    notAfter?: Date;
  },
): Promise<KeyedCertificate> {
  const keySpec = options.keySpec ?? 'ec-p256';
  const keys = await generateKeys(keySpec);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: subjectName(options.subject),
    issuer: ca.certificate.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: signingAlgorithm(ca.keySpec),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return keyed(certificate, keys, keySpec);
}

/** DEFAULT-mode CA registration: a certificate whose CN is the account's registration code (aws-iot-reference §2). */
export function issueVerificationCertificate(ca: KeyedCertificate, registrationCode: string): Promise<KeyedCertificate> {
  return issueCertificate(ca, { subject: { commonName: registrationCode } });
}

/** The chain a device presents, as in the seeds: `cat device.crt rootCA.pem > deviceAndCA.crt`. */
export const deviceChain = (device: KeyedCertificate, ca: KeyedCertificate) => `${device.certificatePem}\n${ca.certificatePem}\n`;

export type Subject = { commonName?: string; serialNumber?: string; organization?: string };

/** Signs a certificate for a public key someone else holds (a CSR's, a device's). */
export async function issueCertificateForKey(
  issuer: KeyedCertificate,
  options: {
    publicKey: webcrypto.CryptoKey;
    subject: x509.JsonName | string;
    notBefore?: Date;
    notAfter?: Date;
    extensions?: x509.Extension[];
  },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: options.subject,
    issuer: issuer.certificate.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: signingAlgorithm(issuer.keySpec),
    publicKey: options.publicKey as never,
    signingKey: issuer.keys.privateKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate),
      ...(options.extensions ?? []),
    ],
  });
}

/** A TLS server certificate for the local endpoints (DNS names and IP addresses as SANs). */
export async function issueServerCertificate(
  issuer: KeyedCertificate,
  names: { dns: string[]; ip: string[] },
): Promise<KeyedCertificate> {
  const keySpec: KeySpec = 'ec-p256';
  const keys = await generateKeys(keySpec);
  const certificate = await issueCertificateForKey(issuer, {
    publicKey: keys.publicKey,
    subject: subjectName({ commonName: names.dns[0] ?? 'localhost' }),
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ip.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  return keyed(certificate, keys, keySpec);
}

/** A key pair and a PKCS#10 request, as a device makes them before CreateCertificateFromCsr. */
export async function createCsr(subject: Subject, keySpec: KeySpec = 'ec-p256'): Promise<{ csrPem: string; privateKeyPem: string }> {
  const keys = await generateKeys(keySpec);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectName(subject),
    keys: keys as never,
    signingAlgorithm: signingAlgorithm(keySpec),
  });
  return { csrPem: csr.toString('pem'), privateKeyPem: await privateKeyPem(keys) };
}

/** Generates a key pair (for CreateKeysAndCertificate-style issuance). */
export { generateKeys, privateKeyPem };

/** Reads a PEM CSR: its verified public key and subject. Throws on a malformed or badly signed request. */
export async function readCsr(pem: string): Promise<{ publicKey: webcrypto.CryptoKey; subject: string; algorithm: webcrypto.KeyAlgorithm }> {
  const csr = new x509.Pkcs10CertificateRequest(pem);
  if (!(await csr.verify())) throw new Error('the CSR signature does not verify');
  const publicKey = (await csr.publicKey.export()) as unknown as webcrypto.CryptoKey;
  return { publicKey, subject: csr.subject, algorithm: publicKey.algorithm };
}

const CURVES: Record<string, 'P-256' | 'P-384' | 'P-521'> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/**
 * A CA (or any certificate) and its private key from PEM files — ours, or openssl's (`openssl genrsa`
 * writes PKCS#8 in OpenSSL 3 and PKCS#1 before; EC keys come as SEC1 or PKCS#8): node:crypto reads them
 * all, WebCrypto then takes PKCS#8. Throws when the key does not belong to the certificate.
 */
export async function loadKeyedCertificate(certificatePem: string, privateKeyPem: string): Promise<KeyedCertificate> {
  const { createPrivateKey, createPublicKey, X509Certificate } = await import('node:crypto');
  const key = createPrivateKey(privateKeyPem);
  const certificate = new x509.X509Certificate(certificatePem);
  if (!new X509Certificate(certificatePem).checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
  let keySpec: KeySpec;
  let algorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  if (key.asymmetricKeyType === 'rsa') {
    // Any RSA size: only the signature algorithm (RSASSA-PKCS1-v1_5 with SHA-256) follows from the spec.
    keySpec = 'rsa-2048';
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else if (key.asymmetricKeyType === 'ec' && CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']) {
    const namedCurve = CURVES[key.asymmetricKeyDetails!.namedCurve!]!;
    keySpec = `ec-${namedCurve.toLowerCase().replace('-', '')}` as KeySpec;
    algorithm = { name: 'ECDSA', namedCurve };
  } else {
    throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: use RSA or EC P-256/P-384/P-521`);
  }
  const keys: CryptoKeyPair = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), algorithm, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ format: 'der', type: 'spki' }), algorithm, true, ['verify']),
  };
  return keyed(certificate, keys, keySpec);
}
