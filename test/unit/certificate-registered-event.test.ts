import { certificateRegisteredEventSchema } from '../../shared/schemas/certificate-registered-event';
import { loadEvent } from '../support/fixtures';

describe('certificateRegisteredEventSchema', () => {
  it('accepts the documented event', () => {
    const event = loadEvent('certificate-registered');
    expect(certificateRegisteredEventSchema.parse(event)).toEqual(event);
  });

  it('accepts a captured event with a null registration timestamp and keys it does not know', () => {
    const parsed = certificateRegisteredEventSchema.parse(loadEvent('certificate-registered-captured'));
    expect(parsed.certificateRegistrationTimestamp).toBeNull();
    expect(parsed).toHaveProperty('sourceIp', '203.0.113.10');
  });

  it('accepts an event without certificateRegistrationTimestamp', () => {
    const event = loadEvent('certificate-registered');
    delete event.certificateRegistrationTimestamp;
    expect(certificateRegisteredEventSchema.safeParse(event).success).toBe(true);
  });

  it.each<[string, (e: Record<string, unknown>) => void, string]>([
    ['certificateId is missing', (e) => delete e.certificateId, 'certificateId'],
    ['certificateId is not 64 hex', (e) => (e.certificateId = 'xyz'), 'certificateId'],
    ['caCertificateId is missing', (e) => delete e.caCertificateId, 'caCertificateId'],
    ['timestamp is a string', (e) => (e.timestamp = '1695074220131'), 'timestamp'],
    ['the status is not PENDING_ACTIVATION', (e) => (e.certificateStatus = 'ACTIVE'), 'certificateStatus'],
    ['the account id is not 12 digits', (e) => (e.awsAccountId = 'acct'), 'awsAccountId'],
    ['the registration timestamp is a number', (e) => (e.certificateRegistrationTimestamp = 1623723165331), 'certificateRegistrationTimestamp'],
  ])('rejects an event where %s, naming the field', (_, mutate, field) => {
    const event = loadEvent('certificate-registered');
    mutate(event);
    const result = certificateRegisteredEventSchema.safeParse(event);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toContain(field);
  });

  it.each([[null], ['text'], [[]], [{}]])('rejects %j', (value) => {
    expect(certificateRegisteredEventSchema.safeParse(value).success).toBe(false);
  });
});
