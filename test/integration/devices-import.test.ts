import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateThingGroupCommand } from '@aws-sdk/client-iot';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { importRows } from '../../shared/registry/import-devices';
import { readImportRows } from '../../shared/registry/import-rows';
import { createDocumentClient } from '../../shared/aws/clients';
import { devicesImportCommand } from '../../cli/devices-import';
import { main } from '../../cli/main';
import { issueCertificate } from '../../lib/pki';
import { readCertificateFacts } from '../../shared/certificates/certificate-facts';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * `devices import` against the local IoT Core's DynamoDB, through the CLI as an operator runs it
 * (`--local --endpoints-file`), and the pinned key it records deciding JITR on a first connect.
 */

let stack: LocalStack;
let dir: string;
let local: string[];
const savedEnv = { ...process.env };

beforeAll(async () => {
  stack = await startLocalStack();
  await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: 'factory' }));
  dir = mkdtempSync(join(tmpdir(), 'iot-import-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(stack.core.endpoints));
  local = ['--local', '--endpoints-file', endpointsFile];
});

afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = savedEnv;
});

const silentProgress = { isTTY: false, write: () => true };

/** Writes the file and runs `devices import` on it; the summary lines are returned. */
async function runImport(name: string, content: string, format?: 'csv' | 'ndjson') {
  const file = join(dir, name);
  writeFileSync(file, content);
  const out: string[] = [];
  const code = await devicesImportCommand(file, { local: true, endpointsFile: local[2]!, ...(format ? { format } : {}) }, (line) => out.push(line), silentProgress);
  return { code, out: out.join('\n') };
}

const count = (out: string, label: string) => Number(new RegExp(`^${label} +(\\d+)`, 'm').exec(out)?.[1]);

describe('devices import into the local registry', () => {
  it('imports 1,000 CSV rows, and a second run of the same file changes nothing', async () => {
    const csv = ['deviceId,thingGroup,attr.batch', ...Array.from({ length: 1_000 }, (_, i) => `BULK-${String(i).padStart(4, '0')},factory,b1`)].join('\n');
    const first = await runImport('bulk.csv', csv);
    expect(first.code).toBe(0);
    expect([count(first.out, 'imported'), count(first.out, 'unchanged'), count(first.out, 'invalid')]).toEqual([1_000, 0, 0]);
    const sample = await stack.registry.get('BULK-0999');
    expect(sample).toMatchObject({ status: 'allowed', thingGroup: 'factory', attributes: { batch: 'b1' } });

    const second = await runImport('bulk.csv', csv);
    expect([count(second.out, 'imported'), count(second.out, 'updated'), count(second.out, 'unchanged')]).toEqual([0, 0, 1_000]);
    expect((await stack.registry.get('BULK-0999'))?.updatedAt).toBe(sample?.updatedAt);
  });

  it('reports invalid NDJSON rows by line and writes none of them, the valid rows all', async () => {
    const ndjson = [
      '{"deviceId":"ND-1","thingGroup":"factory"}',
      '{"deviceId":"ND-2","attributes":{"bad":"has space"}}',
      '{"deviceId":"ND-3","publicKeySha256":"not-hex"}',
      '{"deviceId":"ND-4"}',
    ].join('\n');
    const result = await runImport('rows.ndjson', ndjson);
    expect(result.code).toBe(1);
    expect(count(result.out, 'imported')).toBe(2);
    expect(result.out).toMatch(/invalid +2 \(not written\)\n {2}line 2: attributes\.bad: .*\n {2}line 3: publicKeySha256: /);
    expect(await stack.registry.get('ND-2')).toBeUndefined();
    expect(await stack.registry.get('ND-3')).toBeUndefined();
    expect(await stack.registry.get('ND-4')).toMatchObject({ status: 'allowed' });
  });

  it('updates an existing entry’s profile and never its status or binding', async () => {
    await stack.registry.block('OLD-BLOCKED', new Date());
    await stack.registry.allow('OLD-BOUND', {}, new Date());
    await stack.registry.claim('OLD-BOUND', 'f'.repeat(64), { at: new Date() });
    await stack.registry.markBound('OLD-BOUND', 'f'.repeat(64), 'OLD-BOUND', new Date());

    const result = await runImport('existing.txt', '{"deviceId":"OLD-BLOCKED","thingGroup":"factory"}\n{"deviceId":"OLD-BOUND","thingGroup":"factory"}\n', 'ndjson');
    expect(result.out).toMatch(/^updated +2 \(1 stay blocked: OLD-BLOCKED\)$/m);
    expect(await stack.registry.get('OLD-BLOCKED')).toMatchObject({ status: 'blocked', thingGroup: 'factory' });
    expect(await stack.registry.get('OLD-BOUND')).toMatchObject({ status: 'allowed', thingGroup: 'factory', certificateId: 'f'.repeat(64), bindingState: 'bound' });
  });

  it('resumes an import that stopped half-way: the re-run writes only the rows the first run did not', async () => {
    const { rows } = readImportRows(['deviceId', ...Array.from({ length: 300 }, (_, i) => `RESUME-${i}`)].join('\n'), 'csv');
    const client = createDocumentClient();
    const tableName = stack.deployed.tableName;
    // The connection drops after four BatchWriteItem requests (100 rows).
    let writes = 0;
    const failing = {
      send: (command: unknown) => {
        if (command instanceof BatchWriteCommand && ++writes > 4) return Promise.reject(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
        return client.send(command as never);
      },
    };
    await expect(importRows({ client: failing as never, tableName }, rows, { concurrency: 1 })).rejects.toThrow('socket hang up');

    const resumed = await importRows({ client, tableName }, rows);
    expect([resumed.unchanged.length, resumed.imported.length]).toEqual([100, 200]);
    expect(await stack.registry.get('RESUME-299')).toMatchObject({ status: 'allowed' });
    client.destroy();
  });

  it('is the CLI command `devices import`, which refuses a file it cannot tell the format of', async () => {
    const file = join(dir, 'devices.txt');
    writeFileSync(file, 'deviceId\nX-1\n');
    const errors: string[] = [];
    const code = await main(['devices', 'import', file, ...local], () => {}, (line) => errors.push(line));
    expect(code).toBe(2);
    expect(errors.join('\n')).toMatch(/cannot tell the format of .*devices\.txt.*--format csv\|ndjson/);
    expect(await stack.registry.get('X-1')).toBeUndefined();
  });
});

describe('a key pinned by the import decides JITR', () => {
  it('activates the device with the pinned key, and revokes a copied serial with another key for key-not-pinned', async () => {
    const device = await issueCertificate(stack.ca, { subject: { serialNumber: 'PIN-1' } });
    const copy = await issueCertificate(stack.ca, { subject: { serialNumber: 'PIN-1' } });
    const quotedPem = `"${device.certificatePem.trim()}"`;
    expect((await runImport('pinned.csv', `deviceId,thingGroup,publicKey\nPIN-1,factory,${quotedPem}\n`)).code).toBe(0);
    expect((await stack.registry.get('PIN-1'))?.pinnedKeySha256).toBe(readCertificateFacts(device.certificatePem).publicKeySha256);

    stack.core.firstConnect(stack.chain(device), stack.dataEndpoint);
    await stack.core.idle();
    expect(await stack.state(device)).toEqual({ status: 'ACTIVE', things: ['PIN-1'], policies: [stack.deployed.devicePolicyName] });

    stack.core.firstConnect(stack.chain(copy), stack.dataEndpoint);
    await stack.core.idle();
    expect(await stack.state(copy)).toEqual({ status: 'REVOKED', things: [], policies: [] });
    const entry = await stack.registry.get('PIN-1');
    expect(entry?.lastRejection).toMatchObject({ reason: 'key-not-pinned', certificateId: copy.certificateId });
    expect(entry).toMatchObject({ certificateId: device.certificateId, bindingState: 'bound' });
    expect(stack.core.firstConnect(stack.chain(device), stack.dataEndpoint)).toMatchObject({ accepted: true });
  });
});
