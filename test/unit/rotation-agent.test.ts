import { createHash, X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryFiles, type DeviceFiles } from '../../device/atomic-files';
import { FILES, RotationAgent, type AgentConnection, type Identity } from '../../device/rotation-agent';
import { createCa, issueCertificate, issueCertificateForKey, readCsr, type KeyedCertificate } from '../../lib/pki';

/**
 * The rotation agent's state machine against a fake cloud (the Jobs MQTT API and the rotation backend as
 * docs/rotation-protocol.md specifies them), with power loss injected before every file operation.
 */

const THING = 'rot-device-1';
const JOBS = `$aws/things/${THING}/jobs`;
const ROTATION = `device/${THING}/rotation`;

class PowerLoss extends Error {}

const idOf = (pem: string) => createHash('sha256').update(Buffer.from(new X509Certificate(pem).raw)).digest('hex');

interface Execution {
  jobId: string;
  status: string;
  versionNumber: number;
  jobDocument: unknown;
  statusDetails?: Record<string, string>;
  /** The certificate of the connection that reported the final status. */
  reportedWith?: string;
}

/** The cloud side: certificates that may connect, one job execution, the rotation backend. */
class FakeCloud {
  readonly active = new Set<string>();
  readonly issued = new Map<string, string>();
  readonly published: Array<{ topic: string; payload: string }> = [];
  readonly connects: Array<{ certificateId: string; accepted: boolean }> = [];
  private readonly open = new Set<{ closed: boolean }>();
  /** The next n connection attempts fail (the network is down). */
  offline = 0;
  /** Set offline when the certificate has been issued: the outage starts right after. */
  offlineAfterIssue = 0;
  /** What the backend does with a CSR. */
  answer: 'issue' | 'issue-revoked' | { error: string } | 'silent' | 'drop-once' = 'issue';
  /** CSRs left unanswered before the backend answers (a queue ahead of the CSR function), and all CSRs seen. */
  ignoreCsrs = 0;
  csrTokens: string[] = [];

  constructor(
    private readonly ca: KeyedCertificate,
    readonly execution: Execution,
  ) {}

  /** Power loss: every connection is gone. */
  dropAll(): void {
    for (const connection of this.open) connection.closed = true;
    this.open.clear();
  }

  connect = async (identity: Identity, clientId: string): Promise<AgentConnection> => {
    if (this.offline > 0) {
      this.offline--;
      throw new Error('connect ECONNREFUSED');
    }
    const certificateId = idOf(identity.certificatePem);
    const keyMatches = new X509Certificate(identity.certificatePem).checkPrivateKey(createPrivateKey(identity.privateKeyPem));
    const accepted = clientId === THING && keyMatches && this.active.has(certificateId);
    this.connects.push({ certificateId, accepted });
    if (!accepted) throw new Error('connection refused');
    const state = { closed: false };
    this.open.add(state);
    let handler: (topic: string, payload: Buffer) => void = () => {};
    let onClose = () => {};
    const drop = () => {
      state.closed = true;
      this.open.delete(state);
      setImmediate(onClose);
    };
    const reply = (topic: string, body: object) => setImmediate(() => !state.closed && handler(topic, Buffer.from(JSON.stringify(body))));
    return {
      onMessage: (h) => {
        handler = h;
      },
      subscribe: async () => {},
      onClose: (h) => {
        onClose = h;
      },
      close: async () => {
        state.closed = true;
        this.open.delete(state);
      },
      publish: async (topic, payload) => {
        if (state.closed) throw new Error('connection closed');
        this.published.push({ topic, payload });
        await this.serve(topic, JSON.parse(payload), certificateId, reply, drop);
      },
    };
  };

  private async serve(topic: string, body: Record<string, unknown>, certificateId: string, reply: (topic: string, body: object) => void, drop: () => void): Promise<void> {
    const e = this.execution;
    const clientToken = body.clientToken;
    const pending = e.status === 'QUEUED' || e.status === 'IN_PROGRESS';
    if (topic === `${JOBS}/start-next`) {
      if (e.status === 'QUEUED') Object.assign(e, { status: 'IN_PROGRESS', versionNumber: e.versionNumber + 1 });
      return reply(`${topic}/accepted`, pending ? { execution: { jobId: e.jobId, status: e.status, versionNumber: e.versionNumber, jobDocument: e.jobDocument }, clientToken } : { clientToken });
    }
    if (topic === `${JOBS}/${e.jobId}/get`) return reply(`${topic}/accepted`, { execution: { jobId: e.jobId, status: e.status, versionNumber: e.versionNumber }, clientToken });
    if (topic === `${JOBS}/${e.jobId}/update`) {
      if (!pending) return reply(`${topic}/rejected`, { code: 'InvalidStateTransition', clientToken });
      if (body.expectedVersion !== undefined && body.expectedVersion !== e.versionNumber) return reply(`${topic}/rejected`, { code: 'VersionMismatch', clientToken });
      Object.assign(e, { status: body.status, statusDetails: body.statusDetails, versionNumber: e.versionNumber + 1, reportedWith: certificateId });
      return reply(`${topic}/accepted`, { executionState: { status: e.status, versionNumber: e.versionNumber }, clientToken });
    }
    if (topic === `${ROTATION}/csr`) {
      this.csrTokens.push(String(clientToken));
      if (this.answer === 'silent') return;
      if (this.ignoreCsrs > 0) {
        this.ignoreCsrs--;
        return;
      }
      if (this.answer === 'drop-once') {
        this.answer = 'issue';
        return drop();
      }
      if (typeof this.answer === 'object') return reply(`${ROTATION}/certificate`, { jobId: body.jobId, clientToken, error: { reason: this.answer.error } });
      // Idempotent per clientToken: a CSR sent again after a restart gets the same certificate.
      let pem = this.issued.get(String(clientToken));
      if (!pem) {
        const csr = await readCsr(String(body.csr));
        pem = (await issueCertificateForKey(this.ca, { publicKey: csr.publicKey, subject: csr.subject })).toString('pem');
        this.issued.set(String(clientToken), pem);
        if (this.answer === 'issue') this.active.add(idOf(pem));
      }
      this.offline = this.offlineAfterIssue;
      return reply(`${ROTATION}/certificate`, { jobId: body.jobId, clientToken, certificatePem: pem, certificateId: idOf(pem) });
    }
  }
}

/** Files that lose power before the n-th change (write, rename, remove). */
class FailingFiles implements DeviceFiles {
  changes = 0;
  constructor(
    private readonly inner: DeviceFiles,
    private readonly failAt = Infinity,
  ) {}
  private step(): void {
    if (++this.changes === this.failAt) throw new PowerLoss(`power lost before change ${this.failAt}`);
  }
  read(name: string) {
    return this.inner.read(name);
  }
  async write(name: string, data: string) {
    this.step();
    await this.inner.write(name, data);
  }
  async rename(from: string, to: string) {
    this.step();
    await this.inner.rename(from, to);
  }
  async remove(name: string) {
    this.step();
    await this.inner.remove(name);
  }
}

let ca: KeyedCertificate;
let original: KeyedCertificate;

beforeAll(async () => {
  ca = await createCa({ commonName: 'Rotation test CA' });
  original = await issueCertificate(ca, { subject: { serialNumber: THING } });
});

function setUp(jobDocument: unknown = { operation: 'rotate-certificate' }): { dir: string; cloud: FakeCloud } {
  const dir = mkdtempSync(join(tmpdir(), 'rotation-agent-'));
  writeFileSync(join(dir, FILES.certificate), original.certificatePem);
  writeFileSync(join(dir, FILES.key), original.privateKeyPem);
  const cloud = new FakeCloud(ca, { jobId: 'rotate-1', status: 'QUEUED', versionNumber: 1, jobDocument });
  cloud.active.add(original.certificateId);
  return { dir, cloud };
}

const agentOn = (dir: string, cloud: FakeCloud, files: DeviceFiles = new DirectoryFiles(dir)) =>
  new RotationAgent({ thingName: THING, files, connect: cloud.connect, replyTimeoutMs: 500 });

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

/** The current pair on disk: a matching key and certificate. */
function currentPair(dir: string): { certificateId: string; matches: boolean } {
  const certificatePem = read(dir, FILES.certificate);
  return { certificateId: idOf(certificatePem), matches: new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(read(dir, FILES.key))) };
}

const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.next') || name.endsWith('.tmp'));

describe('a rotation without interruption', () => {
  it('rotates: new key on the device, CSR, reconnect with the new certificate, SUCCEEDED, then the new pair replaces the old', async () => {
    const { dir, cloud } = setUp();

    await agentOn(dir, cloud).run({ once: true });

    const issued = [...cloud.issued.values()][0]!;
    expect(cloud.execution).toMatchObject({ status: 'SUCCEEDED', reportedWith: idOf(issued) });
    expect(currentPair(dir)).toEqual({ certificateId: idOf(issued), matches: true });
    expect(leftovers(dir)).toEqual([]);
    expect(JSON.parse(read(dir, FILES.state))).toEqual({ phase: 'idle' });
    // The CSR carries the job and a client token; no key ever leaves the device.
    const csr = cloud.published.find((p) => p.topic === `${ROTATION}/csr`)!;
    expect(JSON.parse(csr.payload)).toEqual({ jobId: 'rotate-1', clientToken: expect.any(String), csr: expect.stringContaining('BEGIN CERTIFICATE REQUEST') });
    expect(cloud.published.filter((p) => p.payload.includes('PRIVATE KEY'))).toEqual([]);
  });

  it('reports SUCCEEDED with the expectedVersion it was given, and re-reads the execution on a VersionMismatch', async () => {
    const { dir, cloud } = setUp();
    const agent = agentOn(dir, cloud);
    // Someone else updates the execution (a status detail) while the device rotates.
    const bump = setInterval(() => {
      if (cloud.issued.size && cloud.execution.status === 'IN_PROGRESS' && cloud.execution.versionNumber === 2) cloud.execution.versionNumber = 3;
    }, 1);

    await agent.run({ once: true });
    clearInterval(bump);

    expect(cloud.execution.status).toBe('SUCCEEDED');
    const updates = cloud.published.filter((p) => p.topic === `${JOBS}/rotate-1/update`).map((p) => JSON.parse(p.payload).expectedVersion);
    expect(updates.at(-1)).toBe(3);
  });

  it.each([
    ['the backend refuses the CSR', { error: 'key-reused' }, 'backend:key-reused'],
    ['the backend never answers', 'silent', 'no-certificate'],
    ['the new certificate is refused at connect', 'issue-revoked', 'new-certificate-refused'],
  ] as const)('rolls back when %s: FAILED with the reason, the old pair kept and connected', async (_case, answer, reason) => {
    const { dir, cloud } = setUp();
    cloud.answer = answer;

    await agentOn(dir, cloud).run({ once: true });

    expect(cloud.execution).toMatchObject({ status: 'FAILED', statusDetails: { reason } });
    expect(currentPair(dir)).toEqual({ certificateId: original.certificateId, matches: true });
    expect(leftovers(dir)).toEqual([]);
    expect(cloud.connects.at(-1)).toEqual({ certificateId: original.certificateId, accepted: true });
  });

  it('sends the CSR again (same clientToken) while the backend is slow to answer, and rotates with the one certificate', async () => {
    const { dir, cloud } = setUp();
    cloud.ignoreCsrs = 2;

    await agentOn(dir, cloud).run({ once: true });

    expect(cloud.execution.status).toBe('SUCCEEDED');
    expect(cloud.csrTokens).toHaveLength(3);
    expect(new Set(cloud.csrTokens).size).toBe(1);
    expect(cloud.issued.size).toBe(1);
  });

  it('gives up after its CSR attempts (4 by default): FAILED no-certificate, each with the same clientToken', async () => {
    const { dir, cloud } = setUp();
    cloud.answer = 'silent';

    await agentOn(dir, cloud).run({ once: true });

    expect(cloud.execution).toMatchObject({ status: 'FAILED', statusDetails: { reason: 'no-certificate' } });
    expect(cloud.csrTokens).toHaveLength(4);
    expect(new Set(cloud.csrTokens).size).toBe(1);
  });

  it('resumes after the connection drops mid-rotation (a long-running agent reconnects and goes on)', async () => {
    const { dir, cloud } = setUp();
    cloud.answer = 'drop-once';
    const stop = new AbortController();
    const done = setInterval(() => cloud.execution.status === 'SUCCEEDED' && stop.abort(), 5);

    await agentOn(dir, cloud).run({ signal: stop.signal, retryDelayMs: 10 });
    clearInterval(done);

    expect(cloud.execution.status).toBe('SUCCEEDED');
    expect(currentPair(dir)).toEqual({ certificateId: idOf([...cloud.issued.values()][0]!), matches: true });
    // Two CSRs with one client token: the second after the reconnection, with the same key.
    const csrs = cloud.published.filter((p) => p.topic === `${ROTATION}/csr`).map((p) => JSON.parse(p.payload).clientToken);
    expect(csrs).toHaveLength(2);
    expect(new Set(csrs).size).toBe(1);
  });

  it('stops when told to while a start-next is under way (an abort that came before the wait still stops it)', async () => {
    const { dir, cloud } = setUp();
    cloud.execution.status = 'SUCCEEDED';
    const stop = new AbortController();
    // The stop comes as the agent asks for the next job: the answer (no execution) arrives after it.
    const connect = cloud.connect;
    cloud.connect = async (identity, clientId) => {
      const connection = await connect(identity, clientId);
      return { ...connection, publish: async (topic, payload) => (topic === `${JOBS}/start-next` && stop.abort(), connection.publish(topic, payload)) };
    };

    const stopped = await Promise.race([
      agentOn(dir, cloud)
        .run({ signal: stop.signal })
        .then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still running after 2 s'), 2_000)),
    ]);

    expect(stopped).toBe('stopped');
    expect(cloud.published.filter((p) => p.topic === `${JOBS}/start-next`)).toHaveLength(1);
  });

  it.each([1, 2, 3, 4, 5, 6])('keeps the rotation through a network outage right after the certificate came (%i failed connects: retry, not roll back)', async (failedConnects) => {
    const { dir, cloud } = setUp();
    cloud.offlineAfterIssue = failedConnects;
    const stop = new AbortController();
    const done = setInterval(() => cloud.execution.status !== 'IN_PROGRESS' && cloud.execution.status !== 'QUEUED' && stop.abort(), 5);

    await agentOn(dir, cloud).run({ signal: stop.signal, retryDelayMs: 5 });
    clearInterval(done);

    expect(cloud.execution.status).toBe('SUCCEEDED');
    expect(cloud.issued.size).toBe(1);
    expect(currentPair(dir).certificateId).toBe(idOf([...cloud.issued.values()][0]!));
  });

  it('rejects a job that is not a rotation, and one asking for a key it does not make', async () => {
    for (const document of [{ operation: 'reboot' }, { operation: 'rotate-certificate', keyAlgorithm: 'DSA-1024' }]) {
      const { dir, cloud } = setUp(document);

      await agentOn(dir, cloud).run({ once: true });

      expect(cloud.execution.status).toBe('REJECTED');
      expect(cloud.execution.statusDetails?.reason).toMatch(/^unsupported-/);
      expect(currentPair(dir).certificateId).toBe(original.certificateId);
    }
  });

  it('makes an RSA-2048 key when the job asks for one', async () => {
    const { dir, cloud } = setUp({ operation: 'rotate-certificate', keyAlgorithm: 'RSA-2048' });

    await agentOn(dir, cloud).run({ once: true });

    expect(cloud.execution.status).toBe('SUCCEEDED');
    expect(createPrivateKey(read(dir, FILES.key)).asymmetricKeyDetails?.modulusLength).toBe(2048);
  });
});

describe('power loss between any two file changes', () => {
  async function changesOf(answer: FakeCloud['answer']): Promise<number> {
    const { dir, cloud } = setUp();
    cloud.answer = answer;
    const files = new FailingFiles(new DirectoryFiles(dir));
    await agentOn(dir, cloud, files).run({ once: true });
    return files.changes;
  }

  it('still connects after a restart and converges to the new pair, SUCCEEDED reported with it', async () => {
    const changes = await changesOf('issue');
    expect(changes).toBeGreaterThanOrEqual(7);
    for (let failAt = 1; failAt <= changes; failAt++) {
      const { dir, cloud } = setUp();
      await expect(agentOn(dir, cloud, new FailingFiles(new DirectoryFiles(dir), failAt)).run({ once: true })).rejects.toBeInstanceOf(PowerLoss);
      cloud.dropAll();
      const connectsBefore = cloud.connects.length;

      await agentOn(dir, cloud).run({ once: true });

      // The restarted agent's first connection works (old pair, or the new one it was rotating to).
      expect([failAt, cloud.connects[connectsBefore]?.accepted]).toEqual([failAt, true]);
      const issued = [...cloud.issued.values()];
      expect([failAt, cloud.execution.status, cloud.execution.reportedWith]).toEqual([failAt, 'SUCCEEDED', idOf(issued.at(-1)!)]);
      expect([failAt, currentPair(dir)]).toEqual([failAt, { certificateId: idOf(issued.at(-1)!), matches: true }]);
      expect([failAt, leftovers(dir)]).toEqual([failAt, []]);
    }
  });

  it('rolls back to the old pair when the new certificate is refused, whatever the moment of the power loss', async () => {
    const changes = await changesOf('issue-revoked');
    expect(changes).toBeGreaterThanOrEqual(5);
    for (let failAt = 1; failAt <= changes; failAt++) {
      const { dir, cloud } = setUp();
      cloud.answer = 'issue-revoked';
      await expect(agentOn(dir, cloud, new FailingFiles(new DirectoryFiles(dir), failAt)).run({ once: true })).rejects.toBeInstanceOf(PowerLoss);
      cloud.dropAll();

      await agentOn(dir, cloud).run({ once: true });

      expect([failAt, cloud.execution.status, cloud.execution.statusDetails?.reason]).toEqual([failAt, 'FAILED', 'new-certificate-refused']);
      expect([failAt, currentPair(dir)]).toEqual([failAt, { certificateId: original.certificateId, matches: true }]);
      expect([failAt, cloud.connects.at(-1)]).toEqual([failAt, { certificateId: original.certificateId, accepted: true }]);
      expect([failAt, leftovers(dir)]).toEqual([failAt, []]);
    }
  });
});
