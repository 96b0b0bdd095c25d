import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createCa, generateKeys, issueCertificateForKey, privateKeyPem, readCsr, type KeyedCertificate } from '../../lib/pki';
import { IotError } from './errors';

/**
 * The certificate authority behind certificates AWS IoT issues itself: CreateKeysAndCertificate,
 * CreateCertificateFromCsr (REST and MQTT) and CreateProvisioningClaim. Like AWS's, these certificates have
 * no registered CA (no caCertificateId) and the subject "CN=AWS IoT Certificate" unless a CSR names one.
 */

const DAY = 24 * 60 * 60 * 1000;
// AWS-issued device certificates are valid until the end of 2049.
const NOT_AFTER = new Date('2049-12-31T23:59:59Z');

export interface IssuedKeysAndCertificate {
  certificate: X509Certificate;
  certificatePem: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

export class AwsIssuer {
  private constructor(readonly ca: KeyedCertificate) {}

  static async create(): Promise<AwsIssuer> {
    return new AwsIssuer(await createCa({ commonName: 'AWS IoT issuing CA (iot-provisioner local)' }));
  }

  get caPem(): string {
    return this.ca.certificatePem;
  }

  /** A new RSA-2048 key pair and its certificate; the key is returned once, as AWS does (PKCS#1 PEM). */
  async createKeysAndCertificate(notAfter: Date = NOT_AFTER, notBefore: Date = new Date(Date.now() - DAY)): Promise<IssuedKeysAndCertificate> {
    const keys = await generateKeys('rsa-2048');
    const certificate = await issueCertificateForKey(this.ca, {
      publicKey: keys.publicKey,
      subject: 'CN=AWS IoT Certificate',
      notBefore,
      notAfter,
    });
    const key = createPrivateKey(await privateKeyPem(keys));
    return {
      certificate: new X509Certificate(certificate.toString('pem')),
      certificatePem: certificate.toString('pem'),
      publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
      privateKeyPem: key.export({ type: 'pkcs1', format: 'pem' }).toString(),
    };
  }

  /**
   * Signs a CSR: the key must be RSA ≥ 2048 bits or EC P-256/P-384/P-521 (aws-iot-reference §4,
   * CreateCertificateFromCsr); the certificate keeps the CSR's subject.
   */
  async signCsr(csrPem: unknown): Promise<{ certificate: X509Certificate; certificatePem: string }> {
    if (typeof csrPem !== 'string' || !csrPem.includes('CERTIFICATE REQUEST')) {
      throw new IotError('InvalidRequestException', 'The certificate signing request is not a PEM CSR.');
    }
    if (csrPem.length > 4096) throw new IotError('InvalidRequestException', 'The certificate signing request exceeds 4096 characters.');
    let csr;
    try {
      csr = await readCsr(csrPem);
    } catch (error) {
      throw new IotError('InvalidRequestException', `The certificate signing request is not valid: ${(error as Error).message}`);
    }
    const algorithm = csr.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
    const acceptable =
      (algorithm.name.startsWith('RSA') && (algorithm.modulusLength ?? 0) >= 2048) ||
      (algorithm.name === 'ECDSA' && ['P-256', 'P-384', 'P-521'].includes(algorithm.namedCurve ?? ''));
    if (!acceptable) {
      throw new IotError('InvalidRequestException', 'The CSR key must be RSA of at least 2048 bits or EC P-256, P-384 or P-521.');
    }
    const certificate = await issueCertificateForKey(this.ca, {
      publicKey: csr.publicKey,
      subject: csr.subject || 'CN=AWS IoT Certificate',
      notBefore: new Date(Date.now() - DAY),
      notAfter: NOT_AFTER,
    });
    return { certificate: new X509Certificate(certificate.toString('pem')), certificatePem: certificate.toString('pem') };
  }
}
