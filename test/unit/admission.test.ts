import {
  checkCertificate,
  checkDevice,
  deviceIdFromSubject,
  type AdmissionPolicy,
  type BoundCertificate,
  type CaFacts,
} from '../../shared/admission/admit';
import type { CertificateFacts } from '../../shared/certificates/certificate-facts';
import type { DeviceEntry } from '../../shared/registry/device-entry';

const NOW = new Date('2026-11-22T12:00:00Z');
const CA_ID = 'a'.repeat(64);
const OTHER_CA_ID = 'b'.repeat(64);

const policy = (overrides: Partial<AdmissionPolicy> = {}): AdmissionPolicy => ({
  mode: 'allowlist',
  deviceIdSource: 'serialNumberOrCommonName',
  boundDevice: 'refuse',
  ...overrides,
});

const certificate = (overrides: Partial<CertificateFacts> = {}): CertificateFacts => ({
  notBefore: new Date('2026-01-01T00:00:00Z'),
  notAfter: new Date('2027-01-01T00:00:00Z'),
  key: { type: 'ec', curve: 'P-256' },
  publicKeySha256: 'a'.repeat(64),
  subject: { commonName: ['ValidDevice'], serialNumber: ['DEVICE123456'] },
  ...overrides,
});

const activeCa: CaFacts = { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' };

describe('checkCertificate', () => {
  it('admits a valid certificate of a CA registered with auto-registration and names the device by serialNumber', () => {
    const decision = checkCertificate({ caCertificateId: CA_ID, ca: activeCa, certificate: certificate() }, policy(), NOW);
    expect(decision).toEqual({ admitted: true, deviceId: 'DEVICE123456' });
  });

  it.each<[string, Partial<CertificateFacts>, CaFacts | undefined, Partial<AdmissionPolicy>, string]>([
    ['the CA is not registered', {}, undefined, {}, 'ca-not-allowed'],
    ['the CA is INACTIVE', {}, { status: 'INACTIVE', autoRegistrationStatus: 'ENABLE' }, {}, 'ca-not-allowed'],
    ['the CA has auto-registration off', {}, { status: 'ACTIVE', autoRegistrationStatus: 'DISABLE' }, {}, 'ca-not-allowed'],
    ['the CA is not in the configured list', {}, activeCa, { allowedCaIds: [OTHER_CA_ID] }, 'ca-not-allowed'],
    ['the certificate is not yet valid', { notBefore: new Date('2026-11-23T00:00:00Z') }, activeCa, {}, 'certificate-not-yet-valid'],
    ['the certificate has expired', { notAfter: new Date('2026-11-22T11:59:59Z') }, activeCa, {}, 'certificate-expired'],
    ['the key is RSA-1024', { key: { type: 'rsa', bits: 1024 } }, activeCa, {}, 'key-too-weak'],
    ['the key is EC P-521', { key: { type: 'ec', curve: 'P-521' } }, activeCa, {}, 'key-type-not-allowed'],
    ['the key is Ed25519', { key: { type: 'other', name: 'ed25519' } }, activeCa, {}, 'key-type-not-allowed'],
    ['the subject has no serialNumber and no CN', { subject: { commonName: [], serialNumber: [] } }, activeCa, {}, 'device-id-missing'],
    ['the device id is not a valid thing name', { subject: { commonName: [], serialNumber: ['dev ice/1'] } }, activeCa, {}, 'device-id-invalid'],
    ['the device id is longer than 128 characters', { subject: { commonName: [], serialNumber: ['x'.repeat(129)] } }, activeCa, {}, 'device-id-invalid'],
    ['the subject has two different serialNumbers', { subject: { commonName: [], serialNumber: ['A1', 'B2'] } }, activeCa, {}, 'device-id-invalid'],
    ['the device id must be the serialNumber but only a CN exists', { subject: { commonName: ['cn-only'], serialNumber: [] } }, activeCa, { deviceIdSource: 'serialNumber' }, 'device-id-missing'],
  ])('rejects when %s', (_, facts, ca, policyOverrides, reason) => {
    const decision = checkCertificate({ caCertificateId: CA_ID, ca, certificate: certificate(facts) }, policy(policyOverrides), NOW);
    expect(decision).toMatchObject({ admitted: false, reason });
  });

  it('keeps the device id in a rejection when one could be read, so the registry can record it', () => {
    const decision = checkCertificate(
      { caCertificateId: CA_ID, ca: activeCa, certificate: certificate({ key: { type: 'rsa', bits: 1024 } }) },
      policy(),
      NOW,
    );
    expect(decision).toEqual({ admitted: false, reason: 'key-too-weak', deviceId: 'DEVICE123456' });
  });

  it('admits a CA from the configured list without looking at its registration', () => {
    const decision = checkCertificate(
      { caCertificateId: CA_ID.toUpperCase(), ca: undefined, certificate: certificate() },
      policy({ allowedCaIds: [CA_ID] }),
      NOW,
    );
    expect(decision).toMatchObject({ admitted: true });
  });

  it.each([
    [{ type: 'rsa', bits: 2048 }],
    [{ type: 'rsa', bits: 4096 }],
    [{ type: 'ec', curve: 'P-256' }],
    [{ type: 'ec', curve: 'P-384' }],
  ] as const)('accepts key %j', (key) => {
    expect(checkCertificate({ caCertificateId: CA_ID, ca: activeCa, certificate: certificate({ key }) }, policy(), NOW)).toMatchObject({
      admitted: true,
    });
  });

  it('accepts a certificate on the last second of its validity', () => {
    const facts = certificate({ notAfter: NOW });
    expect(checkCertificate({ caCertificateId: CA_ID, ca: activeCa, certificate: facts }, policy(), NOW).admitted).toBe(true);
  });
});

describe('deviceIdFromSubject', () => {
  const subject = { commonName: ['cn-1'], serialNumber: ['sn-1'] };
  it.each([
    ['serialNumberOrCommonName', subject, 'sn-1'],
    ['serialNumberOrCommonName', { commonName: ['cn-1'], serialNumber: [] }, 'cn-1'],
    ['serialNumber', subject, 'sn-1'],
    ['commonName', subject, 'cn-1'],
    ['serialNumber', { commonName: [], serialNumber: ['sn-1', 'sn-1'] }, 'sn-1'],
  ] as const)('takes the id by %s', (source, s, expected) => {
    expect(deviceIdFromSubject({ commonName: [...s.commonName], serialNumber: [...s.serialNumber] }, source)).toEqual({
      deviceId: expected,
    });
  });
});

describe('checkDevice', () => {
  const CERT = 'c'.repeat(64);
  const OLD = 'd'.repeat(64);
  const allowed: DeviceEntry = { deviceId: 'DEVICE123456', status: 'allowed' };
  const bound = (status: string | undefined, bindingState: 'claimed' | 'bound' = 'bound'): BoundCertificate => ({
    certificateId: OLD,
    status,
    bindingState,
  });
  const check = (entry: DeviceEntry | undefined, b?: BoundCertificate, p: Partial<AdmissionPolicy> = {}) =>
    checkDevice({ deviceId: 'DEVICE123456', certificateId: CERT, entry, bound: b }, policy(p));

  it('admits an allow-listed device that holds no other certificate', () => {
    expect(check(allowed)).toEqual({ admitted: true, retirePrevious: false });
  });
  it('rejects a blocked device, in allowlist mode', () => {
    expect(check({ deviceId: 'DEVICE123456', status: 'blocked' })).toMatchObject({ admitted: false, reason: 'device-blocked' });
  });
  it('rejects a blocked device, in ca mode too', () => {
    expect(check({ deviceId: 'DEVICE123456', status: 'blocked' }, undefined, { mode: 'ca' })).toMatchObject({
      reason: 'device-blocked',
    });
  });
  it('rejects a device the registry does not know, in allowlist mode', () => {
    expect(check(undefined)).toMatchObject({ admitted: false, reason: 'device-not-allowlisted' });
  });
  it('rejects a device the registry has only seen (no decision), in allowlist mode', () => {
    expect(check({ deviceId: 'DEVICE123456' })).toMatchObject({ reason: 'device-not-allowlisted' });
  });
  it('admits a device the registry does not know, in ca mode', () => {
    expect(check(undefined, undefined, { mode: 'ca' })).toEqual({ admitted: true, retirePrevious: false });
  });
  it('refuses a device bound to another ACTIVE certificate', () => {
    expect(check(allowed, bound('ACTIVE'))).toMatchObject({ admitted: false, reason: 'device-already-bound' });
  });
  it('refuses a device whose other certificate is being provisioned right now', () => {
    expect(check(allowed, bound('PENDING_ACTIVATION', 'claimed'))).toMatchObject({ reason: 'device-already-bound' });
  });
  it('replaces the ACTIVE certificate when configured to', () => {
    expect(check(allowed, bound('ACTIVE'), { boundDevice: 'replace' })).toEqual({
      admitted: true,
      previousCertificateId: OLD,
      retirePrevious: true,
    });
  });
  it.each([['REVOKED'], ['INACTIVE'], [undefined]])('lets a device take a new certificate when the old one is %s', (status) => {
    expect(check(allowed, bound(status))).toEqual({ admitted: true, previousCertificateId: OLD, retirePrevious: false });
  });
  it('admits the certificate the device is already bound to', () => {
    expect(check(allowed, { certificateId: CERT, status: 'ACTIVE', bindingState: 'bound' })).toEqual({
      admitted: true,
      retirePrevious: false,
    });
  });
});
