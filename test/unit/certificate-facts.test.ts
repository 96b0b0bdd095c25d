import { CertificateUnreadableError, readCertificateFacts } from '../../shared/certificates/certificate-facts';
import { readCertificateFields } from '../../shared/certificates/der';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';

describe('readCertificateFacts', () => {
  let ca: KeyedCertificate;
  beforeAll(async () => {
    ca = await createCa({ commonName: 'Test CA' });
  });

  it('reads the serialNumber attribute and the CN of the subject', async () => {
    const device = await issueCertificate(ca, { subject: { commonName: 'ValidDevice', serialNumber: 'DEVICE123456' } });
    expect(readCertificateFacts(device.certificatePem).subject).toEqual({
      commonName: ['ValidDevice'],
      serialNumber: ['DEVICE123456'],
    });
  });

  it('reads the validity window to the second', async () => {
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2051-06-07T08:09:10Z'); // GeneralizedTime from 2050 on (RFC 5280)
    const device = await issueCertificate(ca, { subject: { commonName: 'd' }, notBefore, notAfter });
    const facts = readCertificateFacts(device.certificatePem);
    expect(facts.notBefore).toEqual(notBefore);
    expect(facts.notAfter).toEqual(notAfter);
  });

  it.each([
    ['rsa-1024', { type: 'rsa', bits: 1024 }],
    ['rsa-2048', { type: 'rsa', bits: 2048 }],
    ['ec-p256', { type: 'ec', curve: 'P-256' }],
    ['ec-p384', { type: 'ec', curve: 'P-384' }],
    ['ec-p521', { type: 'ec', curve: 'P-521' }],
  ] as const)('reports a %s key', async (keySpec, key) => {
    const device = await issueCertificate(ca, { subject: { commonName: 'd' }, keySpec });
    expect(readCertificateFacts(device.certificatePem).key).toEqual(key);
  });

  it('reads only the first certificate of a chain', async () => {
    const device = await issueCertificate(ca, { subject: { serialNumber: 'FIRST' } });
    expect(readCertificateFacts(`${device.certificatePem}\n${ca.certificatePem}`).subject.serialNumber).toEqual(['FIRST']);
  });

  it.each([['not a pem'], ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----']])(
    'throws CertificateUnreadableError for %j',
    (pem) => {
      expect(() => readCertificateFacts(pem)).toThrow(CertificateUnreadableError);
    },
  );
});

describe('readCertificateFields', () => {
  it.each([
    ['an empty buffer', new Uint8Array()],
    ['a truncated sequence', new Uint8Array([0x30, 0x82, 0x01])],
    ['a length beyond the data', new Uint8Array([0x30, 0x10, 0x30, 0x00])],
    ['something that is not a sequence', new Uint8Array([0x02, 0x01, 0x00])],
  ])('rejects %s with an error, never a crash', (_, der) => {
    expect(() => readCertificateFields(der)).toThrow(/DER|certificate|TBS/);
  });
});
