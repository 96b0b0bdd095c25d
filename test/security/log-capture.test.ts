import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { captureHandlerLogs, findSecrets } from './log-capture';

/** The log scan of the security matrix can fail: it sees what workers write, and it knows a secret when it sees one. */

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const token = randomBytes(48).toString('base64');
const logLine = (extra: Record<string, unknown>) => JSON.stringify({ level: 'INFO', message: 'something happened', ...extra });
const keyBody = privateKey.split('\n').slice(1, -2);

describe('the log scan', () => {
  it('finds nothing in ordinary lines', () => {
    expect(findSecrets([logLine({ certificateId: 'a'.repeat(64), deviceId: 'SENSOR-0001' })], { privateKeys: [privateKey], tokens: [token] })).toEqual([]);
  });

  it.each([
    ['a whole PEM key (JSON-escaped)', logLine({ key: privateKey })],
    ['a PEM label alone', logLine({ error: `bad ${'-'.repeat(5)}BEGIN RSA PRIVATE KEY${'-'.repeat(5)} block` })],
    ['one line of the key body', logLine({ detail: keyBody[5] })],
    ['the key body without its line breaks', logLine({ detail: keyBody.join('') })],
    ['an ownership token', logLine({ request: { certificateOwnershipToken: token } })],
  ])('finds %s', (_, line) => {
    expect(findSecrets([line], { privateKeys: [privateKey], tokens: [token] }).length).toBeGreaterThan(0);
  });

  it('finds a bearer secret such as a presigned URL signature', () => {
    expect(findSecrets([logLine({ url: 'https://bucket.s3.amazonaws.com/x?X-Amz-Signature=abc123def' })], { privateKeys: [], tokens: [], bearer: ['abc123def'] })).toEqual(['bearer secret #0']);
  });

  it('captures the JSON lines a worker thread writes to stdout and to stderr', async () => {
    const capture = captureHandlerLogs();
    try {
      const worker = new Worker(
        `console.log(${JSON.stringify(logLine({ n: 1 }))}); console.error(${JSON.stringify(JSON.stringify({ level: 'ERROR', message: 'failed' }))});`,
        { eval: true },
      );
      await new Promise((resolve) => worker.once('exit', resolve));
      await capture.settle();
    } finally {
      capture.stop();
    }
    expect(capture.lines.map((line) => (JSON.parse(line) as { message: string }).message).sort()).toEqual(['failed', 'something happened']);
  });
});
