import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { deviceChain, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import { startCliStack, type CliStack } from '../support/cli-stack';

/** `npx iot-provisioner devices suspend|resume|retire|timeline` against the local IoT Core. */

let stack: CliStack;
let ca: KeyedCertificate;
const cli = (...args: string[]) => stack.cli(...args);

beforeAll(async () => {
  stack = await startCliStack();
  ca = await stack.registerCa('CLI lifecycle CA');
});

afterAll(async () => {
  await stack.close();
});

async function provisioned(deviceId: string): Promise<KeyedCertificate> {
  expect((await cli('devices', 'allow', deviceId, '--thing-group', stack.deployed.thingGroupName, ...stack.local)).code).toBe(0);
  const device = await issueCertificate(ca, { subject: { serialNumber: deviceId } });
  stack.core.firstConnect(deviceChain(device, ca), stack.dataEndpoint);
  await stack.core.idle();
  expect((await stack.describe(device.certificateId)).status).toBe('ACTIVE');
  return device;
}

const connect = (device: KeyedCertificate) => stack.core.firstConnect(deviceChain(device, ca), stack.dataEndpoint);

describe('iot-provisioner devices suspend|resume|retire|timeline', () => {
  it('suspends, resumes and retires a device, and prints its timeline with who did what', async () => {
    const device = await provisioned('CLI-LIFE-1');

    const suspended = await cli('devices', 'suspend', 'CLI-LIFE-1', ...stack.local);
    expect(suspended).toMatchObject({ code: 0, err: '' });
    expect(suspended.out).toContain('suspended CLI-LIFE-1');
    expect(suspended.out).toContain('lifecycle     suspended');
    expect(connect(device)).toMatchObject({ accepted: false, reason: 'certificate-inactive' });

    expect((await cli('devices', 'resume', 'CLI-LIFE-1', ...stack.local)).out).toContain('lifecycle     provisioned');
    expect(connect(device)).toMatchObject({ accepted: true });

    const retired = await cli('devices', 'retire', 'CLI-LIFE-1', ...stack.local);
    expect(retired.code).toBe(0);
    expect(retired.out).toContain('lifecycle     retired');
    expect((await stack.describe(device.certificateId)).status).toBe('REVOKED');

    const timeline = await cli('devices', 'timeline', 'CLI-LIFE-1', ...stack.local);
    const lines = timeline.out.split('\n');
    expect(lines.map((line) => line.split(/\s+/)[1])).toEqual(['allowed', 'activated', 'suspended', 'resumed', 'retired']);
    expect(lines[2]).toContain(`cli:local:${stack.core.endpoints.accountId}`);
    expect(lines[2]).toContain(`certificate ${device.certificateId}`);
    expect(lines[1]).toContain('function:activateCertificate');

    const json = JSON.parse((await cli('devices', 'timeline', 'CLI-LIFE-1', '--json', '--limit', '2', ...stack.local)).out);
    expect(json.map((e: { type: string }) => e.type)).toEqual(['resumed', 'retired']);
  });

  it('refuses a transition the table does not allow, with exit code 1 and the way out', async () => {
    await provisioned('CLI-LIFE-2');
    expect(await cli('devices', 'resume', 'CLI-LIFE-2', ...stack.local)).toMatchObject({ code: 1, err: expect.stringContaining('only a suspended device can be resumed') });
    await cli('devices', 'suspend', 'CLI-LIFE-2', ...stack.local);
    expect(await cli('devices', 'allow', 'CLI-LIFE-2', ...stack.local)).toMatchObject({ code: 1, err: expect.stringContaining('resume or retire it first') });
    expect(await cli('devices', 'block', 'CLI-LIFE-2', ...stack.local)).toMatchObject({ code: 1, err: expect.stringContaining('resume or retire it first') });
    expect(JSON.parse((await cli('devices', 'show', 'CLI-LIFE-2', '--json', ...stack.local)).out).status).toBe('suspended');
  });

  it('keeps the thing with --keep-thing, and refurbishes a retired device with devices allow', async () => {
    await provisioned('CLI-LIFE-3');
    expect((await cli('devices', 'retire', 'CLI-LIFE-3', '--keep-thing', ...stack.local)).code).toBe(0);
    expect(await cli('devices', 'allow', 'CLI-LIFE-3', ...stack.local)).toMatchObject({ code: 0, out: expect.stringContaining('lifecycle     allowed') });
    const fresh = await provisioned('CLI-LIFE-3');
    expect(await stack.describe(fresh.certificateId)).toMatchObject({ status: 'ACTIVE', things: ['CLI-LIFE-3'] });
  });

  it.each([
    [['devices', 'suspend', 'bad id!'], 'a device id matching'],
    [['devices', 'suspend', 'D1', '--keep-thing'], '--keep-thing is not an option of `devices suspend`'],
    [['devices', 'timeline', 'D1', '--limit', 'lots'], '--limit must be a whole number'],
    [['devices', 'resume', 'D1', '--thing-group', 'g'], 'is not an option of `devices resume`'],
  ])('refuses %j before touching anything', async (args, message) => {
    const result = await cli(...args, ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
  });

  it('says there is nothing to show for a device without events', async () => {
    expect((await cli('devices', 'timeline', 'NOBODY', ...stack.local)).out).toContain('no timeline events for NOBODY');
  });
});

describe('iot-provisioner devices reindex', () => {
  it('gives entries written before the console their device-list partition, once', async () => {
    const documents = createDocumentClient();
    await documents.send(new PutCommand({ TableName: stack.deployed.tableName, Item: { deviceId: 'CLI-OLD-1', status: 'allowed' } }));

    const first = await cli('devices', 'reindex', ...stack.local);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/updated [1-9]\d*/);
    const { Item } = await documents.send(new GetCommand({ TableName: stack.deployed.tableName, Key: { deviceId: 'CLI-OLD-1' } }));
    expect(Item?.listShard).toMatch(/^[0-7]$/);

    expect((await cli('devices', 'reindex', ...stack.local)).out).toContain('updated 0 (every entry is in the device list already)');
  });
});
