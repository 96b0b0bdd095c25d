import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { readCertificateFields } from './der';

export type PublicKeyFacts =
  | { type: 'rsa'; bits: number }
  | { type: 'ec'; curve: string }
  | { type: 'other'; name: string };

/** What admission needs to know about a certificate, read once from its PEM. */
export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  key: PublicKeyFacts;
  /** The key's fingerprint (`publicKeySha256Of`): what a registry entry's pinned key is compared with. */
  publicKeySha256: string;
  /** Subject attribute values by name; only the names admission uses are kept. */
  subject: { commonName: string[]; serialNumber: string[] };
}

export class CertificateUnreadableError extends Error {
  override name = 'CertificateUnreadableError';
}

const OID = { commonName: '2.5.4.3', serialNumber: '2.5.4.5' } as const;

// Node reports OpenSSL's curve names.
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Key type and size (RSA bits, EC curve) of a public key. */
export function keyFactsOf(key: KeyObject): PublicKeyFacts {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && details.modulusLength) return { type: 'rsa', bits: details.modulusLength };
  if (key.asymmetricKeyType === 'ec' && details.namedCurve) {
    return { type: 'ec', curve: CURVE_NAMES[details.namedCurve] ?? details.namedCurve };
  }
  return { type: 'other', name: key.asymmetricKeyType ?? 'unknown' };
}

/**
 * The lower-case hex SHA-256 of the key's DER SubjectPublicKeyInfo — the same for the key's PEM, a CSR
 * and every certificate made for it (`openssl pkey -pubin -outform DER | openssl dgst -sha256`).
 */
export function publicKeySha256Of(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Parses the first certificate of a PEM and returns its admission-relevant facts. */
export function readCertificateFacts(pem: string): CertificateFacts {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new CertificateUnreadableError(`certificate PEM cannot be parsed: ${(error as Error).message}`);
  }
  try {
    const fields = readCertificateFields(certificate.raw);
    const valuesOf = (oid: string) =>
      fields.subject.filter((a) => a.oid === oid && a.value !== undefined).map((a) => a.value as string);
    return {
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      key: keyFactsOf(certificate.publicKey),
      publicKeySha256: publicKeySha256Of(certificate.publicKey),
      subject: { commonName: valuesOf(OID.commonName), serialNumber: valuesOf(OID.serialNumber) },
    };
  } catch (error) {
    throw new CertificateUnreadableError(`certificate fields cannot be read: ${(error as Error).message}`);
  }
}

/**
 * What the registry records about a bound certificate (issue 11 §3): its validity window and who issued it.
 * `issuedByAwsIot` is the flow's knowledge (vending asks AWS IoT to issue; JITR certificates come from a
 * registered CA), not a guess from the issuer's name. Certificates AWS IoT issues are valid until 2049
 * (aws-iot-reference, "Certificates issued by AWS IoT"): their age, not their expiry, says when to rotate.
 */
export interface BoundCertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** The issuer's subject DN, RFC 4514 order (most specific first), e.g. `CN=Device CA,O=Example`. */
  issuer: string;
  issuedByAwsIot: boolean;
}

/** Reads a bound certificate's validity and issuer; unreadable certificates throw CertificateUnreadableError. */
export function readBoundCertificateFacts(pem: string, issuedByAwsIot: boolean): BoundCertificateFacts {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new CertificateUnreadableError(`certificate PEM cannot be parsed: ${(error as Error).message}`);
  }
  const { notBefore, notAfter } = readCertificateFacts(pem);
  // Node prints the issuer one attribute a line, root-most first (`C=US\nO=…\nCN=…`).
  const issuer = certificate.issuer.split('\n').filter(Boolean).reverse().join(',');
  return { notBefore, notAfter, issuer, issuedByAwsIot };
}
