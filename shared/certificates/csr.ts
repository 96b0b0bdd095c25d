import { createPublicKey, verify } from 'node:crypto';
import { keyFactsOf, publicKeySha256Of, type CertificateFacts } from './certificate-facts';
import { DerError, readCsrFields } from './der';

/**
 * A PKCS#10 certificate signing request, read for admission: its subject (to check it names the device),
 * its key (type and size), and whether its self-signature verifies (proof the requester holds the key).
 */

export type CsrFacts = Pick<CertificateFacts, 'subject' | 'key' | 'publicKeySha256'>;

export class CsrUnreadableError extends Error {
  override name = 'CsrUnreadableError';
}

const OID = { commonName: '2.5.4.3', serialNumber: '2.5.4.5' } as const;

// Signature algorithms of CSRs: RSA PKCS#1 v1.5 and ECDSA with SHA-2.
const HASH_OF: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

export function readCsrFacts(pem: string): CsrFacts {
  const match = /-----BEGIN CERTIFICATE REQUEST-----([\s\S]+?)-----END CERTIFICATE REQUEST-----/.exec(pem);
  if (!match) throw new CsrUnreadableError('not a PEM certificate signing request');
  const der = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
  try {
    const fields = readCsrFields(der);
    const publicKey = createPublicKey({ key: Buffer.from(fields.publicKey), format: 'der', type: 'spki' });
    const hash = HASH_OF[fields.signatureAlgorithm];
    if (!hash) throw new CsrUnreadableError(`unsupported signature algorithm ${fields.signatureAlgorithm}`);
    if (!verify(hash, fields.signedInfo, publicKey, fields.signature)) throw new CsrUnreadableError('the CSR signature does not verify');
    const valuesOf = (oid: string) => fields.subject.filter((a) => a.oid === oid && a.value !== undefined).map((a) => a.value as string);
    return {
      subject: { commonName: valuesOf(OID.commonName), serialNumber: valuesOf(OID.serialNumber) },
      key: keyFactsOf(publicKey),
      publicKeySha256: publicKeySha256Of(publicKey),
    };
  } catch (error) {
    if (error instanceof CsrUnreadableError) throw error;
    if (error instanceof DerError) throw new CsrUnreadableError(`malformed CSR: ${error.message}`);
    throw new CsrUnreadableError(`unreadable CSR: ${(error as Error).message}`);
  }
}
