import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startCliStack, type CliStack } from '../support/cli-stack';

/** The operator CLI (`npx iot-provisioner devices …`) against the local IoT Core. */

let stack: CliStack;
const cli = (...args: string[]) => stack.cli(...args);

beforeAll(async () => {
  stack = await startCliStack();
});

afterAll(async () => {
  await stack.close();
});

describe('iot-provisioner devices', () => {
  it('allows a device with a thing group and attributes, and shows it', async () => {
    const allowed = await cli('devices', 'allow', 'SENSOR-42', '--thing-group', 'fleet-a', '--attribute', 'site=osaka', ...stack.local);
    expect(allowed).toMatchObject({ code: 0, err: '' });
    expect(allowed.out).toContain('allowed SENSOR-42 in iot-provisioner-dev-devices');

    const shown = await cli('devices', 'show', 'SENSOR-42', '--json', ...stack.local);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ deviceId: 'SENSOR-42', status: 'allowed', thingGroup: 'fleet-a', attributes: { site: 'osaka' } });
  });

  it('re-allowing declares the whole profile: options not given are cleared', async () => {
    await cli('devices', 'allow', 'SENSOR-43', '--thing-group', 'fleet-a', ...stack.local);
    await cli('devices', 'allow', 'SENSOR-43', ...stack.local);
    const shown = await cli('devices', 'show', 'SENSOR-43', '--json', ...stack.local);
    expect(JSON.parse(shown.out).thingGroup).toBeUndefined();
  });

  it('blocks a device', async () => {
    const blocked = await cli('devices', 'block', 'SENSOR-44', ...stack.local);
    expect(blocked.code).toBe(0);
    expect(blocked.out).toContain('status        blocked');
  });

  it('says so, with exit code 1, for a device that is not in the registry', async () => {
    expect(await cli('devices', 'show', 'NOBODY', ...stack.local)).toMatchObject({
      code: 1,
      out: expect.stringContaining('NOBODY is not in iot-provisioner-dev-devices'),
    });
  });

  it.each([
    [['devices', 'allow', 'bad id!'], 'a device id matching'],
    [['devices', 'allow', 'D1', '--attribute', 'novalue'], '--attribute expects key=value'],
    [['devices', 'allow', 'D1', '--attribute', 'a=1', '--attribute', 'b=2', '--attribute', 'c=3'], 'at most 2 attributes'],
    [['devices', 'block', 'D1', '--thing-group', 'g'], 'belong to `devices allow`'],
    [['devices', 'revoke', 'D1'], 'usage: devices allow|block|show'],
    [['things'], 'unknown command'],
    [['devices', 'show', 'D1', '--bogus'], 'Unknown option'],
  ])('refuses %j with a clear message and exit code 2, touching nothing', async (args, message) => {
    const result = await cli(...args, ...stack.local);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
  });

  it('tells how to start the local IoT Core when it is not running', async () => {
    const missing = await cli('devices', 'show', 'D1', '--local', '--endpoints-file', join(stack.dir, 'missing.json'));
    expect(missing).toMatchObject({ code: 2, err: expect.stringContaining('npm run emulator') });

    const stale = join(stack.dir, 'stale.json');
    writeFileSync(stale, JSON.stringify({ ...stack.core.endpoints, iot: 'http://127.0.0.1:1' }));
    const dead = await cli('devices', 'show', 'D1', '--local', '--endpoints-file', stale);
    expect(dead).toMatchObject({ code: 2, err: expect.stringContaining('does not answer') });
  });

  it('runs as the package bin (npx iot-provisioner)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [resolve(__dirname, '../../bin/iot-provisioner.cjs'), 'devices', 'show', 'SENSOR-42', ...stack.local],
      { env: { PATH: process.env.PATH, HOME: stack.dir } },
    );
    expect(stdout).toContain('device        SENSOR-42');
    expect(stdout).toContain('thing group   fleet-a');
  });
});
