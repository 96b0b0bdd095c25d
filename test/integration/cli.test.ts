import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../cli/main';
import { LocalIotCore } from '../../local/local-iot-core';
import { deployStack } from '../../local/deploy-stack';

/** The operator CLI (`npx iot-provisioner devices …`) against the local IoT Core. */

let core: LocalIotCore;
let dir: string;
let endpointsFile: string;
const savedEnv = { ...process.env };

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, (line) => out.push(line), (line) => err.push(line));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  core = await LocalIotCore.start();
  await deployStack(core);
  dir = mkdtempSync(join(tmpdir(), 'iot-cli-'));
  endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(core.endpoints));
});

afterAll(async () => {
  process.env = savedEnv;
  await core.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('iot-provisioner devices', () => {
  it('allows a device with a thing group and attributes, and shows it', async () => {
    const allowed = await cli('devices', 'allow', 'SENSOR-42', '--thing-group', 'fleet-a', '--attribute', 'site=osaka', '--local', '--endpoints-file', endpointsFile);
    expect(allowed).toMatchObject({ code: 0, err: '' });
    expect(allowed.out).toContain('allowed SENSOR-42 in iot-provisioner-dev-devices');

    const shown = await cli('devices', 'show', 'SENSOR-42', '--json', '--local', '--endpoints-file', endpointsFile);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ deviceId: 'SENSOR-42', status: 'allowed', thingGroup: 'fleet-a', attributes: { site: 'osaka' } });
  });

  it('re-allowing declares the whole profile: options not given are cleared', async () => {
    await cli('devices', 'allow', 'SENSOR-43', '--thing-group', 'fleet-a', '--local', '--endpoints-file', endpointsFile);
    await cli('devices', 'allow', 'SENSOR-43', '--local', '--endpoints-file', endpointsFile);
    const shown = await cli('devices', 'show', 'SENSOR-43', '--json', '--local', '--endpoints-file', endpointsFile);
    expect(JSON.parse(shown.out).thingGroup).toBeUndefined();
  });

  it('blocks a device', async () => {
    const blocked = await cli('devices', 'block', 'SENSOR-44', '--local', '--endpoints-file', endpointsFile);
    expect(blocked.code).toBe(0);
    expect(blocked.out).toContain('status        blocked');
  });

  it('says so, with exit code 1, for a device that is not in the registry', async () => {
    expect(await cli('devices', 'show', 'NOBODY', '--local', '--endpoints-file', endpointsFile)).toMatchObject({
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
    const result = await cli(...args, '--local', '--endpoints-file', endpointsFile);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
  });

  it('tells how to start the local IoT Core when it is not running', async () => {
    const missing = await cli('devices', 'show', 'D1', '--local', '--endpoints-file', join(dir, 'missing.json'));
    expect(missing).toMatchObject({ code: 2, err: expect.stringContaining('npm run emulator') });

    const stale = join(dir, 'stale.json');
    writeFileSync(stale, JSON.stringify({ ...core.endpoints, iot: 'http://127.0.0.1:1' }));
    const dead = await cli('devices', 'show', 'D1', '--local', '--endpoints-file', stale);
    expect(dead).toMatchObject({ code: 2, err: expect.stringContaining('does not answer') });
  });

  it('runs as the package bin (npx iot-provisioner)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [resolve(__dirname, '../../bin/iot-provisioner.cjs'), 'devices', 'show', 'SENSOR-42', '--local', '--endpoints-file', endpointsFile],
      { env: { PATH: process.env.PATH, HOME: dir } },
    );
    expect(stdout).toContain('device        SENSOR-42');
    expect(stdout).toContain('thing group   fleet-a');
  });
});
