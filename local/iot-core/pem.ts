import { createHash, X509Certificate } from 'node:crypto';

/** Splits a PEM bundle (device certificate + chain, as devices present it) into certificates. */
export function splitPemChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** Certificate and CA ids: SHA-256 of the DER, 64 lowercase hex (aws-iot-reference §0). */
const ids = new WeakMap<X509Certificate, string>();
export function certificateIdOf(certificate: X509Certificate): string {
  let id = ids.get(certificate);
  if (!id) ids.set(certificate, (id = createHash('sha256').update(certificate.raw).digest('hex')));
  return id;
}

/** True when `issuer` issued `certificate`: names match and the signature verifies with its key. */
export function isIssuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export const validityOf = (certificate: X509Certificate) => ({
  notBefore: new Date(certificate.validFrom),
  notAfter: new Date(certificate.validTo),
});
