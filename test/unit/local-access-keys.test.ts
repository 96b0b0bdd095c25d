import { accessKeyIdOf, accountOfAccessKey, accountOfRequest, isOperatorKey, temporaryAccessKeyId } from '../../local/iam/access-keys';

describe('local access keys name their account', () => {
  it.each([
    ['123456789012', '123456789012'],
    ['ASIA123456789012AB2C', '123456789012'],
    ['ASIA12345678901AB2C', undefined],
    ['AKIAIOSFODNN7EXAMPLE', undefined],
    [undefined, undefined],
  ])('%s → %s', (accessKeyId, account) => {
    expect(accountOfAccessKey(accessKeyId)).toBe(account);
  });

  it('issues temporary keys of AWS length that name the account and are not operator keys', () => {
    const key = temporaryAccessKeyId('111111111111');
    expect(key).toHaveLength(20);
    expect(accountOfAccessKey(key)).toBe('111111111111');
    expect(isOperatorKey(key)).toBe(false);
    expect(isOperatorKey('111111111111')).toBe(true);
    expect(() => temporaryAccessKeyId('abc')).toThrow('not an account id');
  });

  it('reads the account of a SigV4 Authorization header, else the fallback', () => {
    const header = 'AWS4-HMAC-SHA256 Credential=ASIA222222222222ZZZZ/20261201/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=00';
    expect(accessKeyIdOf(header)).toBe('ASIA222222222222ZZZZ');
    expect(accountOfRequest(header, '000000000000')).toBe('222222222222');
    expect(accountOfRequest(undefined, '000000000000')).toBe('000000000000');
    expect(accountOfRequest('AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/x', '000000000000')).toBe('000000000000');
  });
});
