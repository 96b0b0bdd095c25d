/**
 * A minimal DER reader for the parts of an X.509 certificate that Node's `X509Certificate` does not
 * expose in a parseable form: the subject's attributes (Node prints multi-valued RDNs on one line with
 * escapes) and the validity dates. Everything else (key type and size, signature checks) comes from
 * `node:crypto`. Written by hand to keep the handler bundles free of an ASN.1 library.
 */

interface Tlv {
  tag: number;
  offset: number; // first byte of the element (its tag)
  start: number; // first content byte
  end: number; // one past the last content byte
}

export class DerError extends Error {
  override name = 'DerError';
}

function readTlv(der: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated DER');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError('unsupported DER length');
    if (start + count > limit) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new DerError('DER element overruns its parent');
  return { tag, offset, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

function decodeOid(der: Uint8Array, tlv: Tlv): string {
  const bytes = der.subarray(tlv.start, tlv.end);
  if (bytes.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  const first = bytes[0]!;
  parts.push(first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80);
  let value = 0;
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

const TAG = {
  sequence: 0x30,
  set: 0x31,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  teletexString: 0x14,
  bmpString: 0x1e,
  universalString: 0x1c,
  utcTime: 0x17,
  generalizedTime: 0x18,
} as const;

function decodeString(der: Uint8Array, tlv: Tlv): string | undefined {
  const bytes = der.subarray(tlv.start, tlv.end);
  switch (tlv.tag) {
    case TAG.utf8String:
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.teletexString:
      return Buffer.from(bytes).toString('latin1');
    case TAG.bmpString:
      return Buffer.from(bytes).swap16().toString('utf16le');
    default:
      return undefined; // an attribute value we do not read as text (e.g. UniversalString)
  }
}

function decodeTime(der: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(der.subarray(tlv.start, tlv.end)).toString('latin1');
  const match =
    tlv.tag === TAG.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) throw new DerError(`unsupported time encoding: ${text}`);
  const [, y, mo, d, h, mi, s] = match as unknown as [string, string, string, string, string, string, string];
  // RFC 5280 §4.1.2.5.1: UTCTime years 50-99 are 19xx, 00-49 are 20xx.
  const year = tlv.tag === TAG.utcTime ? (Number(y) >= 50 ? 1900 : 2000) + Number(y) : Number(y);
  return new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

export interface SubjectAttribute {
  oid: string;
  value: string | undefined;
}

export interface CertificateFields {
  subject: SubjectAttribute[];
  notBefore: Date;
  notAfter: Date;
}

function readName(der: Uint8Array, name: Tlv): SubjectAttribute[] {
  const attributes: SubjectAttribute[] = [];
  for (const rdn of children(der, name)) {
    if (rdn.tag !== TAG.set) throw new DerError('malformed RDN');
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (!type || type.tag !== TAG.oid || !value) throw new DerError('malformed attribute');
      attributes.push({ oid: decodeOid(der, type), value: decodeString(der, value) });
    }
  }
  return attributes;
}

export interface CsrFields {
  subject: SubjectAttribute[];
  /** SubjectPublicKeyInfo, DER. */
  publicKey: Uint8Array;
  /** The signed part (CertificationRequestInfo), DER, with the signature algorithm and signature. */
  signedInfo: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
}

/** Reads a DER PKCS#10 certification request (RFC 2986). */
export function readCsrFields(der: Uint8Array): CsrFields {
  const request = readTlv(der, 0, der.length);
  if (request.tag !== TAG.sequence) throw new DerError('not a certification request');
  const [info, algorithm, signature] = children(der, request);
  if (!info || info.tag !== TAG.sequence || !algorithm || !signature || signature.tag !== 0x03) throw new DerError('malformed certification request');
  const [version, subject, spki] = children(der, info);
  if (!version || !subject || subject.tag !== TAG.sequence || !spki || spki.tag !== TAG.sequence) throw new DerError('malformed request info');
  const [algorithmOid] = children(der, algorithm);
  if (!algorithmOid || algorithmOid.tag !== TAG.oid) throw new DerError('malformed signature algorithm');
  return {
    subject: readName(der, subject),
    publicKey: der.subarray(spki.offset, spki.end),
    signedInfo: der.subarray(info.offset, info.end),
    signatureAlgorithm: decodeOid(der, algorithmOid),
    // BIT STRING: the first content byte counts unused bits (0 for signatures).
    signature: der.subarray(signature.start + 1, signature.end),
  };
}

/** Reads subject attributes and validity from a DER-encoded X.509 certificate. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  const certificate = readTlv(der, 0, der.length);
  if (certificate.tag !== TAG.sequence) throw new DerError('not a certificate');
  const tbs = children(der, certificate)[0];
  if (!tbs || tbs.tag !== TAG.sequence) throw new DerError('no TBSCertificate');
  const fields = children(der, tbs);
  // [0] EXPLICIT version is optional; skip it so the remaining fields line up.
  const rest = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  // serialNumber, signature, issuer, validity, subject, …
  const validity = rest[3];
  const subject = rest[4];
  if (!validity || validity.tag !== TAG.sequence || !subject || subject.tag !== TAG.sequence) {
    throw new DerError('malformed TBSCertificate');
  }
  const [notBefore, notAfter] = children(der, validity);
  if (!notBefore || !notAfter) throw new DerError('malformed validity');

  return { subject: readName(der, subject), notBefore: decodeTime(der, notBefore), notAfter: decodeTime(der, notAfter) };
}
