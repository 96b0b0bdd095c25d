import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  CreateJobCommand,
  DescribeJobExecutionCommand,
  ListCertificatesCommand,
  UpdateCertificateCommand,
  type Certificate,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { mqttConnector } from '../../device/agent-connection';
import { DirectoryFiles, type DeviceFiles } from '../../device/atomic-files';
import { connectOnce, disconnect, publishAcknowledged, type Endpoint, type Identity } from '../../device/mqtt-connection';
import { FILES, RotationAgent, type AgentEvent, type Connector, type RotationState } from '../../device/rotation-agent';
import { main } from '../../cli/main';
import { createDocumentClient } from '../../shared/aws/clients';
import { listTimelineEvents } from '../../shared/aws/timeline/events';
import type { Rotation } from '../../shared/rotation/model';
import { startLocalStack, type LocalStack } from '../support/local-stack';

/**
 * Certificate rotation end to end with the real backend (docs/rotation-design.md §1, docs/rotation-protocol.md):
 * the stack deployed from serverless.yml into the local IoT Core, the rotation started with the operator CLI
 * (`rotate --devices … --local`: the registry's `queued` rotation, the wave's thing group, CreateJob from the
 * stack's job template, JOB_EXECUTION events enabled), the real RotationAgent over MQTT/TLS with the stack's
 * device policy, the CSR rule → rotateCertificate (S1) and the presence/jobExecution rules → rotationEvents
 * (S2 commit, S3 roll back) in worker containers with their roles, and the retirement queue with a 1 s grace.
 * Nothing is a stand-in.
 *
 * Waits are bounded conditions (`until`, `stack.core.idle()`), never fixed sleeps: under load on 2 cores the
 * worker containers are slow to start, and the suite must not depend on how slow.
 */

let stack: LocalStack;
let endpoint: Endpoint;
let endpointsFile: string;
let documents: ReturnType<typeof createDocumentClient>;
/** The local IoT Core's clock runs this far ahead (the TIMED_OUT test moves it past the job's in-progress timeout). */
let clockOffsetMs = 0;
const savedEnv = { ...process.env };
const clients: MqttClient[] = [];
/** The lifecycle events as a rule sees them (a probe rule beside the stack's own). */
const presence: Array<{ eventType: string; clientId: string; principalIdentifier: string; timestamp: number }> = [];

/** A generous bound for one condition under load (a worker container's cold start included). */
const WAIT_MS = 30_000;
/** The agent's answer timeout: as the reference agent's default (protocol §6), so a slow backend is not a failure. */
const REPLY_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 120_000;

beforeAll(async () => {
  stack = await startLocalStack({
    core: { mqtt: { port: 0 }, now: () => new Date(Date.now() + clockOffsetMs) },
    // A 1 s grace: the old certificate is retired within seconds of the commit (retireCertificate, RetirementQueue).
    params: { retireGraceSeconds: '1' },
  });
  endpoint = stack.endpoint!;
  documents = createDocumentClient();
  const dir = mkdtempSync(join(tmpdir(), 'rotation-e2e-'));
  endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify(stack.core.endpoints));
  const { region, accountId } = stack.core.endpoints;
  stack.core.addFunction({
    functionName: 'rotation-presence',
    handler: async (event) => {
      presence.push(event as (typeof presence)[number]);
      return null;
    },
  });
  stack.core.addRule({
    ruleName: 'rotationPresence',
    sql: "SELECT * FROM '$aws/events/presence/connected/+'",
    actions: [{ lambda: { functionArn: `arn:aws:lambda:${region}:${accountId}:function:rotation-presence` } }],
  });
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack.close();
  // The CLI sets its environment (--local): put it all back.
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads until `holds` (WAIT_MS at most), then returns what it read; fails with the last value. */
async function until<T>(read: () => T | Promise<T>, holds: (value: T) => boolean, what: string, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last value ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

// ---- the operator's side: the CLI, the registry, AWS IoT ----

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--local', '--endpoints-file', endpointsFile], (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `rotate --devices <thing> --job-id <jobId> --local`: the rotation start (S0) as an operator runs it. */
async function rotate(thing: string, jobId: string): Promise<void> {
  const run = await cli('rotate', '--devices', thing, '--job-id', jobId);
  expect(run).toMatchObject({ code: 0, err: '' });
  expect(run.out).toContain(`queued: 1 (${thing})`);
}

/** `rotate status <jobId> --json`: the device's row. */
async function statusRow(jobId: string, thing: string): Promise<{ view: string; state?: string; execution?: string; reason?: string } | undefined> {
  const run = await cli('rotate', 'status', jobId, '--json');
  expect(run).toMatchObject({ code: 0, err: '' });
  return (JSON.parse(run.out) as { devices: Array<{ deviceId: string; view: string }> }).devices.find((d) => d.deviceId === thing);
}

const rotationOf = async (thing: string): Promise<Rotation | undefined> => (await stack.registry.get(thing))?.rotation;
const executionOf = async (jobId: string, thing: string) => (await stack.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution;
const timelineTypes = async (thing: string) =>
  (await listTimelineEvents({ client: documents, tableName: stack.deployed.timelineTableName }, thing)).map((e) => e.type).filter((type) => type.startsWith('rotation-'));
const thingArn = (thingName: string) => stack.core.registry.account(stack.accountId).arn(`thing/${thingName}`);

/** Every certificate of the account (ListCertificates, paged): how many the CSR step made. */
async function certificateIds(): Promise<string[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page = await stack.iot.send(new ListCertificatesCommand({ pageSize: 250, ...(marker ? { marker } : {}) }));
    ids.push(...(page.certificates ?? []).map((c: Certificate) => c.certificateId!));
    marker = page.nextMarker;
  } while (marker);
  return ids;
}

/** Whether the pair connects as the thing (and disconnects at once). */
async function connects(identity: Identity, thing: string): Promise<boolean> {
  const attempt = await connectOnce(endpoint, identity, thing);
  if (attempt.client) await disconnect(attempt.client);
  return attempt.client !== undefined;
}

// ---- the device's side ----

interface Device {
  thing: string;
  dir: string;
  old: Identity & { certificateId: string };
}

/** A device through JITR (first connect refused, activated by the stack, bound), its pair in the agent's files. */
async function jitrDevice(thing: string): Promise<Device> {
  const device = await stack.device(thing, { registry: 'allow' });
  const old = { certificatePem: stack.chain(device), privateKeyPem: device.privateKeyPem, certificateId: device.certificateId };
  const first = await connectOnce(endpoint, old, thing);
  if (first.client) await disconnect(first.client);
  await stack.core.idle();
  await until(() => stack.registry.get(thing), (entry) => entry?.bindingState === 'bound' && entry.certificateId === old.certificateId, `${thing} bound`);
  expect((await stack.describe(old.certificateId)).status).toBe('ACTIVE');
  const dir = mkdtempSync(join(tmpdir(), 'rotation-agent-'));
  writeFileSync(join(dir, FILES.certificate), old.certificatePem);
  writeFileSync(join(dir, FILES.key), old.privateKeyPem, { mode: 0o600 });
  return { thing, dir, old };
}

const read = (device: Device, name: string) => readFileSync(join(device.dir, name), 'utf8');
const currentPair = (device: Device): Identity => ({ certificatePem: read(device, FILES.certificate), privateKeyPem: read(device, FILES.key) });
const agentState = (device: Device): RotationState => JSON.parse(read(device, FILES.state)) as RotationState;

function agentFor(device: Device, options: { files?: DeviceFiles; connect?: Connector; events?: AgentEvent[] } = {}): RotationAgent {
  return new RotationAgent({
    thingName: device.thing,
    files: options.files ?? new DirectoryFiles(device.dir),
    connect: options.connect ?? mqttConnector(endpoint),
    replyTimeoutMs: REPLY_TIMEOUT_MS,
    ...(options.events ? { onEvent: (event) => options.events!.push(event) } : {}),
  });
}

/** The agent's own MQTT connector, recording what it receives and what it publishes (topic and JSON body). */
function recordingConnector(): { connect: Connector; received: string[]; published: Array<{ topic: string; body: Record<string, unknown> }> } {
  const inner = mqttConnector(endpoint);
  const received: string[] = [];
  const published: Array<{ topic: string; body: Record<string, unknown> }> = [];
  const connect: Connector = async (identity, clientId) => {
    const connection = await inner(identity, clientId);
    return {
      ...connection,
      publish: (topic, payload) => (published.push({ topic, body: JSON.parse(payload) as Record<string, unknown> }), connection.publish(topic, payload)),
      onMessage: (handler) => connection.onMessage((topic, payload) => (received.push(topic), handler(topic, payload))),
    };
  };
  return { connect, received, published };
}

class PowerLoss extends Error {}

type FileChange = { op: 'write'; name: string; data: string } | { op: 'rename'; name: string; to: string } | { op: 'remove'; name: string };

/**
 * The agent's files with a hook around every change (write, rename, remove): `before` runs first and may throw
 * PowerLoss (the change never lands), `after` runs once it landed and may throw PowerLoss (the agent dies right
 * after it). The same injection as test/unit/rotation-agent.test.ts, here on real files under a real agent.
 */
class HookedFiles implements DeviceFiles {
  constructor(
    private readonly inner: DeviceFiles,
    private readonly hooks: { before?: (change: FileChange) => void | Promise<void>; after?: (change: FileChange) => void | Promise<void> },
  ) {}
  read(name: string) {
    return this.inner.read(name);
  }
  private async around(change: FileChange, apply: () => Promise<void>): Promise<void> {
    await this.hooks.before?.(change);
    await apply();
    await this.hooks.after?.(change);
  }
  write(name: string, data: string) {
    return this.around({ op: 'write', name, data }, () => this.inner.write(name, data));
  }
  rename(from: string, to: string) {
    return this.around({ op: 'rename', name: from, to }, () => this.inner.rename(from, to));
  }
  remove(name: string) {
    return this.around({ op: 'remove', name }, () => this.inner.remove(name));
  }
}

const isPhase = (change: FileChange, phase: RotationState['phase']) =>
  change.op === 'write' && change.name === FILES.state && (JSON.parse(change.data) as RotationState).phase === phase;

/** Power is cut once, at the first change `at` matches: before it lands, or right after. */
function losePower(device: Device, at: (change: FileChange) => boolean, when: 'before' | 'after'): HookedFiles {
  let cut = false;
  const hook = (change: FileChange) => {
    if (cut || !at(change)) return;
    cut = true;
    throw new PowerLoss(`power lost ${when} ${change.op} ${change.name}`);
  };
  return new HookedFiles(new DirectoryFiles(device.dir), when === 'before' ? { before: hook } : { after: hook });
}

/**
 * When the thing's execution of `jobId` became SUCCEEDED, on the local IoT Core's clock: read from its Jobs
 * registry (the Jobs MQTT answers go to the device only, so no client or rule can watch them; design §1 S2).
 */
function watchSucceeded(thing: string, jobId: string): { at?: number; stop: () => void } {
  const jobs = stack.core.registry.account(stack.accountId).jobs;
  const seen: { at?: number; stop: () => void } = { stop: () => undefined };
  seen.stop = jobs.onExecutionChange((thingName) => {
    if (thingName === thing && seen.at === undefined && jobs.findExecution(jobId, thing)?.status === 'SUCCEEDED') seen.at = Date.now() + clockOffsetMs;
  });
  return seen;
}

/**
 * The backend committed: the registry bound to the new certificate, `rotation.state` committed with both
 * signals and the retirement scheduled; after the 1 s grace the old certificate is INACTIVE and detached and
 * refused at connect; the new one is ACTIVE, attached, and connects; the timeline has queued, issued,
 * committed once each and no roll back; `rotate status` shows the device succeeded.
 */
async function expectCommitted(device: Device, jobId: string): Promise<Rotation> {
  const { thing, old } = device;
  const rotation = await until(() => rotationOf(thing), (r) => r?.state === 'committed' && r.retirementScheduledAt !== undefined, `${thing} committed`);
  const newId = rotation!.newCertificateId!;
  expect(rotation).toMatchObject({ jobId, state: 'committed', jobStatus: 'SUCCEEDED', previousCertificateId: old.certificateId, newConnectedAt: expect.any(String) });
  expect(await stack.registry.get(thing)).toMatchObject({ certificateId: newId, bindingState: 'bound', thingName: thing });
  expect(await executionOf(jobId, thing)).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { certificateId: newId } } });

  // The device holds the new pair as its current one (the agent renamed the .next files) and it matches.
  const pair = currentPair(device);
  expect(new X509Certificate(pair.certificatePem).checkPrivateKey(createPrivateKey(pair.privateKeyPem))).toBe(true);
  expect(pair.certificatePem).not.toBe(old.certificatePem);
  expect(agentState(device).phase).toBe('idle');

  const retired = await until(() => stack.describe(old.certificateId), (state) => state.status === 'INACTIVE', `${old.certificateId} INACTIVE`);
  expect(retired.things).toEqual([]);
  expect(await stack.describe(newId)).toMatchObject({ status: 'ACTIVE', things: [thing] });
  expect(await connects(old, thing)).toBe(false);
  expect(await connects(pair, thing)).toBe(true);

  const types = await timelineTypes(thing);
  for (const type of ['rotation-queued', 'rotation-issued', 'rotation-committed']) expect({ type, count: types.filter((t) => t === type).length }).toEqual({ type, count: 1 });
  expect(types).not.toContain('rotation-rolled-back');
  expect(await statusRow(jobId, thing)).toMatchObject({ view: 'succeeded', state: 'committed', execution: 'SUCCEEDED' });
  return rotation!;
}

/**
 * The backend rolled back: the new certificate REVOKED and detached, the old one ACTIVE and bound and it
 * connects, the new one refused; the timeline has one roll back with the reason; `rotate status` shows it.
 */
async function expectRolledBack(device: Device, jobId: string, reason: string): Promise<Rotation> {
  const { thing, old } = device;
  const rotation = await until(() => rotationOf(thing), (r) => r?.state === 'rolled-back', `${thing} rolled back`);
  expect(rotation).toMatchObject({ jobId, reason, newCertificateId: expect.any(String) });
  const newId = rotation!.newCertificateId!;
  expect(await stack.describe(newId)).toMatchObject({ status: 'REVOKED', things: [] });
  expect(await stack.registry.get(thing)).toMatchObject({ certificateId: old.certificateId, bindingState: 'bound' });
  expect(await stack.describe(old.certificateId)).toMatchObject({ status: 'ACTIVE', things: [thing] });
  expect(await connects(old, thing)).toBe(true);
  const types = await timelineTypes(thing);
  expect(types.filter((t) => t === 'rotation-rolled-back')).toHaveLength(1);
  expect(types).not.toContain('rotation-committed');
  expect(await statusRow(jobId, thing)).toMatchObject({ view: 'rolled back', state: 'rolled-back', reason });
  return rotation!;
}

describe('certificate rotation end to end over MQTT/TLS, with the real backend', () => {
  it(
    'rotates a JITR device: CLI rotate, the agent reconnects with the new certificate before SUCCEEDED, the backend commits and retires the old one',
    async () => {
      const device = await jitrDevice('ROT-E2E-1');
      const before = await certificateIds();
      await rotate(device.thing, 'rotate-e2e-1');
      expect(await rotationOf(device.thing)).toMatchObject({ jobId: 'rotate-e2e-1', state: 'queued' });
      expect(await statusRow('rotate-e2e-1', device.thing)).toMatchObject({ view: 'queued', state: 'queued' });
      const succeeded = watchSucceeded(device.thing, 'rotate-e2e-1');

      await agentFor(device).run({ once: true });

      succeeded.stop();
      const rotation = await expectCommitted(device, 'rotate-e2e-1');
      // One certificate made by the CSR step: the one the device holds.
      expect((await certificateIds()).filter((id) => !before.includes(id))).toEqual([rotation.newCertificateId]);
      // The connected event of the new certificate (as a rule sees it) is stamped before the execution became
      // SUCCEEDED: the agent reported over the new connection (protocol §3.6, the commit rule).
      const connected = await until(() => presence.find((p) => p.clientId === device.thing && p.principalIdentifier === rotation.newCertificateId), (p) => p !== undefined, 'the new certificate\'s connected event');
      expect(succeeded.at).toBeDefined();
      expect(connected!.timestamp).toBeLessThan(succeeded.at!);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a long-running agent takes a rotation started while it waits: notify-next wakes it, and the backend commits',
    async () => {
      const device = await jitrDevice('ROT-E2E-NOTIFY');
      const { connect, received } = recordingConnector();
      const stop = new AbortController();
      const running = agentFor(device, { connect }).run({ signal: stop.signal });
      try {
        // Nothing pending at first: the agent's start-next is answered without an execution, and it waits.
        await until(() => received.includes(`$aws/things/${device.thing}/jobs/start-next/accepted`), Boolean, 'the first start-next answer');
        await rotate(device.thing, 'rotate-e2e-notify');
        await until(() => rotationOf(device.thing), (r) => r?.state === 'committed', 'the commit');
      } finally {
        stop.abort();
        await running;
      }

      expect(received).toContain(`$aws/things/${device.thing}/jobs/notify-next`);
      await expectCommitted(device, 'rotate-e2e-notify');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'runs from the CLI: device agent <thing> --dir d --once takes the files device issue wrote and rotates them',
    async () => {
      const device = await jitrDevice('ROT-E2E-CLI');
      await rotate(device.thing, 'rotate-e2e-cli');
      const dir = mkdtempSync(join(tmpdir(), 'rotation-cli-'));
      writeFileSync(join(dir, `${device.thing}AndCA.crt`), device.old.certificatePem);
      writeFileSync(join(dir, `${device.thing}.key`), device.old.privateKeyPem, { mode: 0o600 });

      const run = await cli('device', 'agent', device.thing, '--dir', dir, '--once');

      expect(run).toMatchObject({ code: 0 });
      expect(run.out).toContain('job rotate-e2e-cli: reported SUCCEEDED');
      // The device's original files are left as they were; nothing printed holds a key.
      expect(readFileSync(join(dir, `${device.thing}AndCA.crt`), 'utf8')).toBe(device.old.certificatePem);
      expect(`${run.out}${run.err}`).not.toMatch(/PRIVATE KEY/);
      await expectCommitted({ ...device, dir }, 'rotate-e2e-cli');
    },
    TEST_TIMEOUT_MS,
  );

  it('answers a job that is not a rotation REJECTED through the real Jobs API; the backend and the certificate are untouched', async () => {
    const device = await jitrDevice('ROT-E2E-REBOOT');
    await stack.iot.send(new CreateJobCommand({ jobId: 'reboot-e2e', targets: [thingArn(device.thing)], document: JSON.stringify({ operation: 'reboot' }) }));

    await agentFor(device).run({ once: true });
    await stack.core.idle();

    expect(await executionOf('reboot-e2e', device.thing)).toMatchObject({ status: 'REJECTED', statusDetails: { detailsMap: { reason: 'unsupported-operation' } } });
    expect(read(device, FILES.certificate)).toBe(device.old.certificatePem);
    expect(await stack.registry.get(device.thing)).toMatchObject({ certificateId: device.old.certificateId, bindingState: 'bound' });
    expect(await rotationOf(device.thing)).toBeUndefined();
  });

  it('cannot send a CSR for another thing, nor take its jobs (the device policy)', async () => {
    const device = await jitrDevice('ROT-E2E-POLICY');
    const { client } = await connectOnce(endpoint, device.old, device.thing);
    clients.push(client!);

    // MQTT 5: a refused publish gets PUBACK 0x87 and the connection stays up.
    await expect(publishAcknowledged(client!, 'device/ROT-E2E-1/rotation/csr', JSON.stringify({ jobId: 'x', clientToken: 'y', csr: 'z' }), 5_000)).rejects.toThrow(/Not authorized/i);
    await expect(publishAcknowledged(client!, '$aws/things/ROT-E2E-1/jobs/start-next', '{}', 5_000)).rejects.toThrow(/Not authorized/i);
    await expect(publishAcknowledged(client!, `$aws/things/${device.thing}/jobs/start-next`, '{}', 5_000)).resolves.toBeUndefined();
    await expect(publishAcknowledged(client!, `device/${device.thing}/rotation/csr`, '{}', 5_000)).resolves.toBeUndefined();
  });

  it('refuses to run without --dir, or with a bad thing name (exit 2, nothing written)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['device', 'agent', 'ROT-E2E-ARGS'], (l) => out.push(l), (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/--dir is required/);
    expect(await main(['device', 'agent', 'bad/name', '--dir', tmpdir()], (l) => out.push(l), (l) => err.push(l))).toBe(2);
    expect(err.join('\n')).toMatch(/thing name/);
  });
});

describe('the agent rolls back, and so does the backend', () => {
  it(
    'FAILED new-certificate-refused: the new certificate is revoked after issue, the agent falls back to its current pair and reports; the backend revokes and detaches',
    async () => {
      const device = await jitrDevice('ROT-E2E-FAIL');
      await rotate(device.thing, 'rotate-e2e-fail');
      // Once the certificate has arrived (before the agent stores it), an operator revokes it: the broker will
      // refuse the new pair on the agent's reconnect (protocol §3.5: refused twice while the current pair connects).
      const files = new HookedFiles(new DirectoryFiles(device.dir), {
        before: async (change) => {
          if (change.op !== 'write' || change.name !== FILES.nextCertificate) return;
          const { newCertificateId } = (await rotationOf(device.thing))!;
          await stack.iot.send(new UpdateCertificateCommand({ certificateId: newCertificateId!, newStatus: 'REVOKED' }));
        },
      });
      const events: AgentEvent[] = [];

      await agentFor(device, { files, events }).run({ once: true });

      expect(events).toContainEqual({ event: 'reported', jobId: 'rotate-e2e-fail', status: 'FAILED', reason: 'new-certificate-refused' });
      expect(events.filter((e) => e.event === 'refused' && e.with === 'new')).toHaveLength(2);
      expect(await executionOf('rotate-e2e-fail', device.thing)).toMatchObject({ status: 'FAILED', statusDetails: { detailsMap: { reason: 'new-certificate-refused' } } });
      await expectRolledBack(device, 'rotate-e2e-fail', 'FAILED: new-certificate-refused');
      // The device kept its current pair and dropped the new one.
      expect(currentPair(device).certificatePem).toBe(device.old.certificatePem);
      expect(agentState(device).phase).toBe('idle');
      expect(await new DirectoryFiles(device.dir).read(FILES.nextCertificate)).toBeUndefined();
      expect(await new DirectoryFiles(device.dir).read(FILES.nextKey)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'FAILED backend:no-rotation: a rotation job the backend did not start (CreateJob by hand) gets its CSR refused; no certificate is made, the device keeps its pair',
    async () => {
      const device = await jitrDevice('ROT-E2E-NOROT');
      const before = await certificateIds();
      await stack.iot.send(
        new CreateJobCommand({ jobId: 'rotate-e2e-by-hand', targets: [thingArn(device.thing)], document: JSON.stringify({ operation: 'rotate-certificate', keyAlgorithm: 'EC-P256' }) }),
      );
      const events: AgentEvent[] = [];

      await agentFor(device, { events }).run({ once: true });
      await stack.core.idle();

      expect(events).toContainEqual({ event: 'reported', jobId: 'rotate-e2e-by-hand', status: 'FAILED', reason: 'backend:no-rotation' });
      expect(await executionOf('rotate-e2e-by-hand', device.thing)).toMatchObject({ status: 'FAILED', statusDetails: { detailsMap: { reason: 'backend:no-rotation' } } });
      expect((await certificateIds()).filter((id) => !before.includes(id))).toEqual([]);
      expect(await stack.registry.get(device.thing)).toMatchObject({ certificateId: device.old.certificateId, bindingState: 'bound' });
      expect(await rotationOf(device.thing)).toBeUndefined();
      expect(currentPair(device).certificatePem).toBe(device.old.certificatePem);
      expect(agentState(device).phase).toBe('idle');
      expect(await connects(device.old, device.thing)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'TIMED_OUT: an agent that stops after receiving the certificate, the clock past the in-progress timeout; restarted, it is refused with the new pair and keeps the old one',
    async () => {
      const device = await jitrDevice('ROT-E2E-TIMEOUT');
      await rotate(device.thing, 'rotate-e2e-timeout');
      // The agent dies right after it recorded `certificate-received`: it never reconnects nor reports.
      const dying = losePower(device, (change) => isPhase(change, 'certificate-received'), 'after');
      await expect(agentFor(device, { files: dying }).run({ once: true })).rejects.toBeInstanceOf(PowerLoss);
      expect(await rotationOf(device.thing)).toMatchObject({ state: 'issued' });
      expect(await executionOf('rotate-e2e-timeout', device.thing)).toMatchObject({ status: 'IN_PROGRESS' });

      // The stack's job template gives an execution inProgressTimeoutInMinutes 60 (resources/rotation.cjs): the
      // local Jobs' clock moves past it and its tick ends the execution TIMED_OUT; the backend rolls back (S3).
      clockOffsetMs += 61 * 60_000;
      try {
        await until(async () => (await executionOf('rotate-e2e-timeout', device.thing))?.status, (status) => status === 'TIMED_OUT', 'TIMED_OUT');
        await expectRolledBack(device, 'rotate-e2e-timeout', 'TIMED_OUT');
      } finally {
        clockOffsetMs = 0;
      }

      // The device comes back in `certificate-received`: the new pair is refused (REVOKED), so it drops it and
      // stays with the current pair, which connects (protocol §4). Its FAILED report is refused by the ended
      // execution: the backend has already rolled back.
      const events: AgentEvent[] = [];
      await agentFor(device, { events }).run({ once: true });
      expect(events).toContainEqual({ event: 'connected', with: 'current' });
      expect(currentPair(device).certificatePem).toBe(device.old.certificatePem);
      expect(agentState(device).phase).toBe('idle');
      expect(await executionOf('rotate-e2e-timeout', device.thing)).toMatchObject({ status: 'TIMED_OUT' });
      expect(await rotationOf(device.thing)).toMatchObject({ state: 'rolled-back', reason: 'TIMED_OUT' });
      expect(await connects(currentPair(device), device.thing)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('power loss in the agent mid-rotation: the restarted agent still connects, and the backend converges', () => {
  // [moment, where the power is cut, before or after that change lands, the phase left, the execution left]
  const cases: Array<[string, (change: FileChange) => boolean, 'before' | 'after', RotationState['phase'], 'IN_PROGRESS' | 'SUCCEEDED']> = [
    // The CSR was answered, the certificate not yet stored: the restart re-sends the CSR with the same clientToken.
    ['before certificate.pem.next is written (restart in key-generated)', (c) => c.op === 'write' && c.name === FILES.nextCertificate, 'before', 'key-generated', 'IN_PROGRESS'],
    ['right after certificate.pem.next is written, before certificate-received', (c) => c.op === 'write' && c.name === FILES.nextCertificate, 'after', 'key-generated', 'IN_PROGRESS'],
    ['right after certificate-received, before the reconnect', (c) => isPhase(c, 'certificate-received'), 'after', 'certificate-received', 'IN_PROGRESS'],
    ['after connected-with-new, before the SUCCEEDED report', (c) => isPhase(c, 'connected-with-new'), 'after', 'connected-with-new', 'IN_PROGRESS'],
    // The job is SUCCEEDED and the backend commits (and retires the old certificate) while the device is down:
    // the restart connects with the new pair, its repeated report is refused, it reads SUCCEEDED and commits.
    ['after the SUCCEEDED report, before committed is written', (c) => isPhase(c, 'committed'), 'before', 'connected-with-new', 'SUCCEEDED'],
  ];

  it.each(cases)(
    '%s',
    async (label, at, when, phaseLeft, executionLeft) => {
      const thing = `ROT-E2E-PWR-${cases.findIndex(([l]) => l === label) + 1}`;
      const jobId = `rotate-e2e-pwr-${cases.findIndex(([l]) => l === label) + 1}`;
      const device = await jitrDevice(thing);
      const before = await certificateIds();
      await rotate(thing, jobId);

      await expect(agentFor(device, { files: losePower(device, at, when) }).run({ once: true })).rejects.toBeInstanceOf(PowerLoss);
      const left = agentState(device);
      expect(left).toMatchObject({ phase: phaseLeft, jobId, clientToken: expect.any(String) });
      expect((await executionOf(jobId, thing))?.status).toBe(executionLeft);
      // Whatever the moment, the current pair is untouched; until SUCCEEDED it still connects (after it, the
      // backend may already have retired it: the restart then uses the new pair, which it holds in .next).
      expect(currentPair(device).certificatePem).toBe(device.old.certificatePem);
      if (executionLeft === 'IN_PROGRESS') expect(await connects(device.old, thing)).toBe(true);
      else expect(read(device, FILES.nextCertificate)).not.toBe(device.old.certificatePem);
      const issued = await until(() => rotationOf(thing), (r) => r?.state === 'issued' || r?.state === 'committed', `${thing} issued`);

      // A new agent on the same directory finishes the rotation.
      const events: AgentEvent[] = [];
      const restarted = recordingConnector();
      await agentFor(device, { events, connect: restarted.connect }).run({ once: true });

      expect(events).toContainEqual({ event: 'connected', with: 'new' });
      // In key-generated it re-sends the CSR, with the clientToken of the first run (protocol §3.3); later, none.
      const csrs = restarted.published.filter((p) => p.topic === `device/${thing}/rotation/csr`);
      expect(csrs.map((p) => p.body.clientToken)).toEqual(phaseLeft === 'key-generated' ? [left.clientToken] : []);
      const rotation = await expectCommitted(device, jobId);
      // One certificate issued, the same before and after the restart, for the clientToken of the first run.
      expect(rotation.newCertificateId).toBe(issued!.newCertificateId);
      expect(rotation.clientToken).toBe(left.clientToken);
      expect((await certificateIds()).filter((id) => !before.includes(id))).toEqual([rotation.newCertificateId]);
    },
    TEST_TIMEOUT_MS,
  );
});
