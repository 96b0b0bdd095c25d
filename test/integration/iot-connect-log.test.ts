import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { IotLoggingOffError, MAX_CONNECTS, recentConnects } from '../../shared/aws/iot-logs/connects';
import { jsonEqualityFilter, LocalLogs, type BrokerConnect } from '../../local/logs/local-logs';

/**
 * `devices why`'s view of connects: AWS IoT's Connect entries in CloudWatch Logs (AWSIotLogsV2), read by
 * shared/aws/iot-logs/connects.ts through the SDK's CloudWatchLogsClient, served by the local stand-in.
 */

const A = '111111111111';
const B = '222222222222';
const CERT = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const NOW = Date.parse('2026-12-01T10:00:00Z');

let connects: BrokerConnect[] = [];
let logs: LocalLogs;
let url: string;

const clientFor = (accountId: string) =>
  new CloudWatchLogsClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: accountId, secretAccessKey: 'local' }, maxAttempts: 1 });

beforeAll(async () => {
  logs = new LocalLogs(() => connects);
  url = await logs.listen(0);
});

afterAll(async () => {
  await logs.close();
});

beforeEach(() => {
  connects = [];
});

describe('recentConnects through the SDK', () => {
  it('reads the certificate’s connects of the caller’s account only, oldest first, with the refusal’s reason', async () => {
    connects = [
      { at: NOW - 3_000, accountId: A, clientId: 'DEV-1', certificateId: CERT, outcome: 'connected' },
      { at: NOW - 2_000, accountId: A, clientId: 'laptop', certificateId: CERT, outcome: 'refused', detail: 'iot:Connect not allowed' },
      { at: NOW - 1_000, accountId: A, clientId: 'DEV-2', certificateId: OTHER, outcome: 'connected' },
      { at: NOW - 500, accountId: B, clientId: 'DEV-1', certificateId: CERT, outcome: 'connected' },
    ];
    const client = clientFor(A);
    expect(await recentConnects(client, CERT, new Date(NOW))).toEqual([
      { at: new Date(NOW - 3_000).toISOString(), clientId: 'DEV-1', outcome: 'connected' },
      { at: new Date(NOW - 2_000).toISOString(), clientId: 'laptop', outcome: 'refused', reason: 'AUTHORIZATION_FAILURE: iot:Connect not allowed' },
    ]);
    client.destroy();
  });

  it('pages through the log and keeps the newest MAX_CONNECTS', async () => {
    connects = Array.from({ length: 250 }, (_, i) => ({ at: NOW - 250_000 + i * 1000, accountId: A, clientId: `c-${i}`, certificateId: CERT, outcome: 'connected' as const }));
    const client = clientFor(A);
    const attempts = await recentConnects(client, CERT, new Date(NOW));
    expect(attempts).toHaveLength(MAX_CONNECTS);
    expect(attempts.at(-1)?.clientId).toBe('c-249');
    client.destroy();
  });

  it('ignores connects older than its window', async () => {
    connects = [{ at: NOW - 8 * 86_400_000, accountId: A, clientId: 'old', certificateId: CERT, outcome: 'connected' }];
    const client = clientFor(A);
    expect(await recentConnects(client, CERT, new Date(NOW))).toEqual([]);
    client.destroy();
  });

  it('says logging is off when the log group does not exist, and refuses a malformed certificate id', async () => {
    const client = clientFor(A);
    const missing = new FilterLogEventsCommand({ logGroupName: 'no-such-group' });
    await expect(client.send(missing)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(recentConnects(client, 'not-an-id')).rejects.toThrow('not a certificate id');
    client.destroy();
  });
});

describe('IotLoggingOffError', () => {
  it('is what recentConnects throws for a missing AWSIotLogsV2 group', async () => {
    const client = { send: async () => Promise.reject(Object.assign(new Error('The specified log group does not exist.'), { name: 'ResourceNotFoundException' })) };
    await expect(recentConnects(client as never, CERT)).rejects.toBeInstanceOf(IotLoggingOffError);
  });
});

describe('the local filter patterns', () => {
  it('matches conjunctions of string equalities and refuses anything else', () => {
    const match = jsonEqualityFilter('{ $.eventType = "Connect" && $.principalId = "x" }');
    expect(match({ eventType: 'Connect', principalId: 'x' })).toBe(true);
    expect(match({ eventType: 'Connect', principalId: 'y' })).toBe(false);
    expect(() => jsonEqualityFilter('ERROR')).toThrow(/only JSON patterns/);
    expect(() => jsonEqualityFilter('{ $.latency > 5 }')).toThrow(/Invalid filter pattern term/);
  });
});
