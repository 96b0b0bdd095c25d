import { createHash, generateKeyPairSync } from 'node:crypto';
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { progressReporter } from '../../cli/devices-import';
import { importRows, summaryLines } from '../../shared/registry/import-devices';
import { csvRecords, readImportRows } from '../../shared/registry/import-rows';
import { batchPutDevices, UnprocessedItemsError } from '../../shared/aws/registry/batch';
import type { Table } from '../../shared/aws/table';

/**
 * `devices import` without DynamoDB: the rows a factory file yields (CSV and NDJSON, with their line
 * numbers), and the batch writes' retries of unprocessed items, against a fake document client.
 */

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const publicPem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const fingerprint = createHash('sha256').update(ec.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
const quoted = (text: string) => `"${text.replaceAll('"', '""')}"`;

describe('reading a factory file', () => {
  it('reads CSV rows with attr.<name> columns, empty cells as absent, and a quoted multi-line PEM key', () => {
    const csv = [
      'deviceId,thingGroup,thingType,attr.model,attr.batch,publicKey',
      `SN-1,fleet,sensor,m1,b7,${quoted(publicPem)}`,
      'SN-2,,,,,',
    ].join('\n');
    const { rows, invalid } = readImportRows(csv, 'csv');
    expect(invalid).toEqual([]);
    expect(rows).toEqual([
      { line: 2, deviceId: 'SN-1', thingGroup: 'fleet', thingType: 'sensor', attributes: { model: 'm1', batch: 'b7' }, pinnedKeySha256: fingerprint },
      { line: publicPem.split('\n').length + 2, deviceId: 'SN-2' },
    ]);
  });

  it('reads NDJSON rows, skipping blank lines, and normalises a fingerprint (upper case, colons) to lower-case hex', () => {
    const colons = fingerprint.toUpperCase().match(/../g)!.join(':');
    const ndjson = [JSON.stringify({ deviceId: 'SN-1', attributes: { model: 'm1' }, publicKeySha256: colons }), '', JSON.stringify({ deviceId: 'SN-2' })].join('\n');
    const { rows, invalid } = readImportRows(ndjson, 'ndjson');
    expect(invalid).toEqual([]);
    expect(rows).toEqual([
      { line: 1, deviceId: 'SN-1', attributes: { model: 'm1' }, pinnedKeySha256: fingerprint },
      { line: 3, deviceId: 'SN-2' },
    ]);
  });

  it.each<[string, string, RegExp]>([
    ['a device id that is not a thing name', '{"deviceId":"dev ice"}', /deviceId: must match/],
    ['no device id', '{"thingGroup":"fleet"}', /deviceId/],
    ['an unknown field', '{"deviceId":"SN-9","colour":"red"}', /colour/],
    ['an attribute value AWS IoT refuses', '{"deviceId":"SN-9","attributes":{"a":"x y"}}', /attribute values/],
    ['three attributes without a thing type', '{"deviceId":"SN-9","attributes":{"a":"1","b":"2","c":"3"}}', /at most 2 attributes/],
    ['a fingerprint that is not 64 hex digits', '{"deviceId":"SN-9","publicKeySha256":"abc"}', /64 hex digits/],
    ['both a key and a fingerprint', `{"deviceId":"SN-9","publicKeySha256":"${fingerprint}","publicKey":${JSON.stringify(publicPem)}}`, /not both/],
    ['a key that is not PEM', '{"deviceId":"SN-9","publicKey":"hello"}', /neither a PEM public key nor a PEM certificate/],
    ['a weak RSA key', `{"deviceId":"SN-9","publicKey":${JSON.stringify(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }))}}`, /key-too-weak/],
    ['a line that is not JSON', '{"deviceId":', /not a JSON object/],
  ])('reports %s as invalid, with its line', (_, line, message) => {
    const { rows, invalid } = readImportRows(['{"deviceId":"SN-OK"}', line].join('\n'), 'ndjson');
    expect(rows.map((r) => r.deviceId)).toEqual(['SN-OK']);
    expect(invalid).toEqual([{ line: 2, message: expect.stringMatching(message) }]);
  });

  it('refuses a private key in the file without repeating it in the message', () => {
    const privatePem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { invalid } = readImportRows(`deviceId,publicKey\nSN-1,${quoted(privatePem)}\n`, 'csv');
    expect(invalid).toEqual([{ line: 2, message: expect.stringMatching(/holds a private key/) }]);
    expect(invalid[0]!.message).not.toMatch(/BEGIN|MII/);
  });

  it('reports a device on two lines as invalid on the later one', () => {
    const { rows, invalid } = readImportRows('deviceId,thingGroup\nSN-1,a\nSN-2,a\nSN-1,b\n', 'csv');
    expect(rows.map((r) => r.line)).toEqual([2, 3]);
    expect(invalid).toEqual([{ line: 4, message: 'device SN-1 is already on line 2' }]);
  });

  it('reports a CSV row with the wrong number of cells', () => {
    expect(readImportRows('deviceId,thingGroup\nSN-1,a,b\n', 'csv').invalid).toEqual([{ line: 2, message: '3 cells where the header has 2 columns' }]);
  });

  it('refuses a CSV header with an unknown column before reading any row', () => {
    expect(() => readImportRows('deviceId,thinggroup\nSN-1,a\n', 'csv')).toThrow(/unknown column "thinggroup"/);
  });

  it('parses RFC 4180: quoted commas and quotes, CRLF line ends', () => {
    expect(csvRecords('a,"b,""c"""\r\nd,e\r\n')).toEqual([
      { line: 1, cells: ['a', 'b,"c"'] },
      { line: 2, cells: ['d', 'e'] },
    ]);
  });
});

/** A document client that answers BatchGetItem with nothing and leaves the first `unprocessed` puts of each BatchWriteItem unprocessed `times` times. */
function fakeTable(options: { unprocessed: number; times: number }) {
  const written = new Map<string, Record<string, unknown>>();
  const writes: number[] = [];
  let left = options.times;
  const client = {
    send: async (command: unknown) => {
      if (command instanceof BatchGetCommand) return { Responses: { registry: [] } };
      if (command instanceof BatchWriteCommand) {
        const requests = command.input.RequestItems!.registry! as Array<{ PutRequest: { Item: Record<string, unknown> } }>;
        writes.push(requests.length);
        const held = left-- > 0 ? requests.slice(0, options.unprocessed) : [];
        for (const r of requests.slice(held.length)) written.set(String(r.PutRequest.Item.deviceId), r.PutRequest.Item);
        return { UnprocessedItems: held.length ? { registry: held } : {} };
      }
      throw new Error(`unexpected command ${(command as object).constructor.name}`);
    },
  };
  return { table: { client: client as unknown as DynamoDBDocumentClient, tableName: 'registry' } satisfies Table, written, writes };
}

const noWait = { maxAttempts: 4, baseDelayMs: 1, sleep: async () => {} };
const entry = (i: number) => ({ deviceId: `SN-${i}`, status: 'allowed' as const });

describe('batch writes with unprocessed items', () => {
  it('sends the unprocessed items again until all are written', async () => {
    const { table, written, writes } = fakeTable({ unprocessed: 5, times: 2 });
    const result = await batchPutDevices(table, Array.from({ length: 25 }, (_, i) => entry(i)), noWait);
    expect(result.retries).toBe(2);
    expect(writes).toEqual([25, 5, 5]);
    expect(written.size).toBe(25);
  });

  it('names the devices still unprocessed after the last attempt', async () => {
    const { table, written } = fakeTable({ unprocessed: 3, times: 99 });
    const error = await batchPutDevices(table, Array.from({ length: 10 }, (_, i) => entry(i)), noWait).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessedItemsError);
    expect((error as UnprocessedItemsError).deviceIds).toEqual(['SN-0', 'SN-1', 'SN-2']);
    expect(written.size).toBe(7);
  });

  it('refuses more than 25 items a request (the BatchWriteItem quota)', async () => {
    await expect(batchPutDevices(fakeTable({ unprocessed: 0, times: 0 }).table, Array.from({ length: 26 }, (_, i) => entry(i)), noWait)).rejects.toThrow(/at most 25/);
  });

  it('an import reports the rows DynamoDB never took as failed, and the others as imported', async () => {
    const { table } = fakeTable({ unprocessed: 2, times: 99 });
    const rows = Array.from({ length: 30 }, (_, i) => ({ line: i + 2, deviceId: `SN-${i}` }));
    const summary = await importRows(table, rows, { retry: noWait, concurrency: 1 });
    expect(summary.failed).toEqual(['SN-0', 'SN-1', 'SN-25', 'SN-26']);
    expect(summary.imported).toHaveLength(26);
    expect(summaryLines(summary, [])).toContain('failed     4 (DynamoDB left them unprocessed; re-run the file): SN-0, SN-1, SN-25, SN-26');
  });
});

describe('progress', () => {
  it('redraws a bar on a terminal and prints a line every 10 % elsewhere', () => {
    const tty = { isTTY: true, text: '', write(t: string) { this.text += t; } };
    const log = { isTTY: false, text: '', write(t: string) { this.text += t; } };
    const onTty = progressReporter(tty, 'import');
    const onLog = progressReporter(log, 'import');
    for (let done = 0; done <= 100; done += 5) {
      onTty(done, 100);
      onLog(done, 100);
    }
    expect(tty.text).toMatch(/^\rimport \[ +\] 0\/100/);
    expect(tty.text.endsWith(`\rimport [${'#'.repeat(30)}] 100/100\n`)).toBe(true);
    expect(log.text.trim().split('\n')).toHaveLength(11);
    expect(log.text).toContain('import: 50/100 rows (50 %)');
  });
});
