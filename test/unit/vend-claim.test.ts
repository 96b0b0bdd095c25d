import { ThrottlingException } from '@aws-sdk/client-iot';
import { handleClaimRequest } from '../../functions/vend-provisioning-claim/http';
import type { ClaimVendingDeps } from '../../shared/provisioning/vend-claim';
import type { IssuedClaim } from '../../shared/provisioning/ledger-ports';
import { loadEvent } from '../support/fixtures';

/** Trusted-user claim vending: who may ask, what they get, what is recorded, and what is never logged. */

// A stand-in key, assembled at run time so no key-shaped text sits in the repository.
const PEM_LABEL = ['RSA', 'PRIVATE', 'KEY'].join(' ');
const PRIVATE_KEY = `-----BEGIN ${PEM_LABEL}-----\nMIIEsecret\n-----END ${PEM_LABEL}-----\n`;

function setup(overrides: Partial<ClaimVendingDeps> = {}) {
  const recorded: IssuedClaim[] = [];
  const logs: string[] = [];
  const log = (message: string, ...extra: unknown[]) => logs.push(JSON.stringify({ message, extra }));
  const deps: ClaimVendingDeps = {
    iot: {
      createProvisioningClaim: async () => ({
        certificateId: 'c'.repeat(64),
        certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        privateKey: PRIVATE_KEY,
        expiration: new Date('2026-11-22T12:05:00Z'),
      }),
    },
    dataEndpoint: async () => 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com',
    ledger: { recordClaim: async (claim) => void recorded.push(claim) },
    templateName: 'iot-provisioner-dev',
    now: () => new Date('2026-11-22T12:00:00Z'),
    log: { debug: log, info: log, warn: log, error: log },
    ...overrides,
  };
  return { deps, recorded, logs };
}

describe('POST /provisioning-claims (handleClaimRequest)', () => {
  it('returns the claim certificate, its key, expiry and endpoint to a signed-in user, and records who asked', async () => {
    const { deps, recorded, logs } = setup();
    const response = await handleClaimRequest(loadEvent('provisioning-claim-request'), deps);
    expect(response.statusCode).toBe(201);
    expect(JSON.parse(response.body)).toEqual({
      certificateId: 'c'.repeat(64),
      certificatePem: expect.stringContaining('BEGIN CERTIFICATE'),
      privateKey: PRIVATE_KEY,
      expiration: '2026-11-22T12:05:00.000Z',
      templateName: 'iot-provisioner-dev',
      endpoint: 'a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com',
      provisionTopic: '$aws/provisioning-templates/iot-provisioner-dev/provision/json',
    });
    expect(recorded).toEqual([
      expect.objectContaining({
        claimCertificateId: 'c'.repeat(64),
        templateName: 'iot-provisioner-dev',
        requestedBy: { sub: '0b8c8a52-7b3e-4c1e-9a8f-2f4d5e6a7b8c', username: 'operator@example.com' },
      }),
    ]);
    expect(logs.join('\n')).not.toContain('PRIVATE KEY');
    expect(logs.join('\n')).not.toContain('MIIEsecret');
  });

  it('refuses a request without a verified subject (401) and creates nothing', async () => {
    const created = jest.fn();
    const { deps } = setup({ iot: { createProvisioningClaim: created } });
    const event = loadEvent<{ requestContext: Record<string, unknown> }>('provisioning-claim-request');
    delete event.requestContext.authorizer;
    expect((await handleClaimRequest(event, deps)).statusCode).toBe(401);
    expect(created).not.toHaveBeenCalled();
  });

  const withGroups = (groups: unknown) => {
    const event = loadEvent<{ requestContext: { authorizer: { jwt: { claims: Record<string, unknown> } } } }>('provisioning-claim-request');
    if (groups === undefined) delete event.requestContext.authorizer.jwt.claims['cognito:groups'];
    else event.requestContext.authorizer.jwt.claims['cognito:groups'] = groups;
    return event;
  };

  it.each<[string, unknown]>([
    ['a technician (as the JWT authorizer passes the claim)', '[technicians]'],
    ['an operator of both groups', '[operators technicians]'],
    ['an operator (the claim as an array, direct invocation)', ['operators']],
  ])('vends a claim to %s', async (_, groups) => {
    const { deps } = setup();
    expect((await handleClaimRequest(withGroups(groups), deps)).statusCode).toBe(201);
  });

  it.each<[string, unknown]>([
    ['no cognito:groups claim (a user of no group)', undefined],
    ['another group', '[visitors]'],
    ['a group name that only contains an allowed one', '[technicians-old]'],
    ['empty brackets', '[]'],
  ])('refuses %s with 403 and the reason, and creates nothing', async (_, groups) => {
    const created = jest.fn();
    const { deps, recorded } = setup({ iot: { createProvisioningClaim: created } });
    const response = await handleClaimRequest(withGroups(groups), deps);
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toEqual({ message: 'This needs a member of technicians or operators.', reason: 'group-not-allowed' });
    expect(created).not.toHaveBeenCalled();
    expect(recorded).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', 'nope'],
    ['parameters it does not take', '{"templateName":"admin-template"}'],
    ['a JSON array', '[]'],
    ['a device id that is no thing name', '{"deviceId":"bad serial!"}'],
  ])('refuses %s with 400 and the reason', async (_, body) => {
    const { deps } = setup();
    const response = await handleClaimRequest({ ...loadEvent<Record<string, unknown>>('provisioning-claim-request'), body }, deps);
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).issues).toHaveLength(1);
  });

  it('vends a claim for the device the request names, and records it with the claim (the hook then provisions that device only)', async () => {
    const { deps, recorded } = setup();
    const response = await handleClaimRequest({ ...loadEvent<Record<string, unknown>>('provisioning-claim-request'), body: '{"deviceId":"SENSOR-0042"}' }, deps);
    expect(response.statusCode).toBe(201);
    expect(JSON.parse(response.body)).toMatchObject({ deviceId: 'SENSOR-0042', certificateId: 'c'.repeat(64) });
    expect(recorded).toEqual([expect.objectContaining({ deviceId: 'SENSOR-0042' })]);
  });

  it('answers 400 to something that is not an HTTP API event', async () => {
    expect((await handleClaimRequest({ hello: 'world' }, setup().deps)).statusCode).toBe(400);
  });

  it('answers 429 when AWS IoT throttles', async () => {
    const { deps } = setup({ iot: { createProvisioningClaim: () => Promise.reject(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} })) } });
    const response = await handleClaimRequest(loadEvent('provisioning-claim-request'), deps);
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('1');
  });

  it('answers 500 without internals, and hands out no claim it could not record', async () => {
    const { deps } = setup({ ledger: { recordClaim: () => Promise.reject(new Error('table arn:aws:dynamodb:... is gone')) } });
    const response = await handleClaimRequest(loadEvent('provisioning-claim-request'), deps);
    expect(response).toEqual({ statusCode: 500, headers: { 'content-type': 'application/json' }, body: '{"message":"Internal error"}' });
  });
});
