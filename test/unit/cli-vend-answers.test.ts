import { explainVendingAnswer } from '../../cli/vend';

/** Every answer of the vending API (and of API Gateway's IAM check before it), as `vend` explains it. */

const context = { deviceId: 'SENSOR-1', revoke: false, key: 'cli-key-0001', url: new URL('https://abc.execute-api.eu-west-1.amazonaws.com/devices/SENSOR-1/certificate') };
const answer = (status: number, body: unknown) => ({ status, text: typeof body === 'string' ? body : JSON.stringify(body) });

describe('explainVendingAnswer', () => {
  it.each([
    ['400 with its issues', answer(400, { message: 'Bad request', reason: 'request-invalid', issues: [{ path: 'csr', message: 'must be a PEM string' }] }), /refused \(400 request-invalid\):\n {2}csr: must be a PEM string/],
    ['403 not allow-listed', answer(403, { message: 'Not allowed', reason: 'device-not-allowlisted' }), /not allow-listed \(403\); allow it first: iot-provisioner devices allow SENSOR-1/],
    ['403 blocked', answer(403, { message: 'Not allowed', reason: 'device-blocked' }), /SENSOR-1 is blocked in the registry \(403\)/],
    ['403 from IAM', answer(403, { message: 'Forbidden' }), /IAM refused the request \(403: Forbidden\): your credentials need execute-api:Invoke on POST/],
    ['403 unknown key', answer(403, { message: 'The security token included in the request is invalid.' }), /IAM refused .*security token/],
    ['404 route', answer(404, { message: 'Not Found' }), /no vending route at https:\/\/abc\.execute-api.*HttpApiUrl/],
    ['409 bound', answer(409, { message: 'Conflict', reason: 'device-already-bound' }), /already has an ACTIVE certificate \(409\): pass --rotate/],
    ['409 in progress', answer(409, { message: 'Conflict', reason: 'request-in-progress' }), /Idempotency-Key cli-key-0001 is still running/],
    ['429', answer(429, { message: 'Too many requests; retry later.' }), /throttling \(429\).*--idempotency-key cli-key-0001 is safe/],
    ['500', answer(500, { message: 'Internal error' }), /failed \(500 Internal error\).*--idempotency-key cli-key-0001 is safe/],
    ['502 without JSON', answer(502, '<html>bad gateway</html>'), /failed \(502 <html>bad gateway<\/html>\)/],
  ])('explains %s', (_, response, expected) => {
    expect(explainVendingAnswer(response, context)).toMatch(expected);
  });

  it('for a revocation, names DELETE and no idempotency key', () => {
    expect(explainVendingAnswer(answer(403, { message: 'Forbidden' }), { ...context, revoke: true })).toMatch(/on DELETE/);
    expect(explainVendingAnswer(answer(404, { message: 'Not found', reason: 'no-certificate' }), { ...context, revoke: true })).toBe('SENSOR-1 has no certificate to revoke (404)');
    expect(explainVendingAnswer(answer(500, { message: 'Internal error' }), { ...context, revoke: true })).not.toMatch(/idempotency/);
  });
});
