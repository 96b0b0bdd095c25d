import 'reflect-metadata';
import { createPrivateKey, generateKeyPairSync, randomUUID, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { DeviceFiles } from './atomic-files';

/**
 * The device side of certificate rotation (docs/rotation-protocol.md): it takes a `rotate-certificate` job
 * over the AWS IoT Jobs MQTT API (notify-next, start-next, <jobId>/update with expectedVersion; developer guide
 * "Jobs device MQTT API operations", https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html),
 * makes a new key on the device, sends a CSR on `device/<thing>/rotation/csr`, gets the certificate on
 * `device/<thing>/rotation/certificate`, reconnects with it and only then reports SUCCEEDED; the old key and
 * certificate are replaced only once the job says SUCCEEDED.
 *
 * Power loss: every file is written atomically (atomic-files.ts) and `rotation-state.json` records the phase,
 * so a restarted agent resumes:
 *
 *   idle → key-generated (private.key.next) → certificate-received (certificate.pem.next)
 *        → connected-with-new → committed (the .next files renamed over the current ones) → idle
 *   any phase before committed → failed (the .next files removed, the job reported FAILED or REJECTED) → idle
 *
 * Whatever the moment, the restarted agent has a pair to connect with: the current pair (never touched before
 * committed), or in `committed` the new one, whose renames it finishes first. The private key is never sent
 * and never logged.
 */

export const FILES = {
  certificate: 'certificate.pem',
  key: 'private.key',
  nextCertificate: 'certificate.pem.next',
  nextKey: 'private.key.next',
  state: 'rotation-state.json',
} as const;

export type Phase = 'idle' | 'key-generated' | 'certificate-received' | 'connected-with-new' | 'committed' | 'failed';

export interface RotationState {
  phase: Phase;
  jobId?: string;
  clientToken?: string;
  /** The job execution's versionNumber as last seen (expectedVersion of the next update). */
  versionNumber?: number;
  certificateId?: string;
  /** failed: what the job is told. */
  failure?: { status: 'FAILED' | 'REJECTED'; reason: string; report: boolean };
}

export interface Identity {
  certificatePem: string;
  privateKeyPem: string;
}

/** The MQTT connection the agent needs: the seam between it and MQTT.js (or a test's fake). */
export interface AgentConnection {
  /** QoS 1 publish, resolved on PUBACK. */
  publish(topic: string, payload: string): Promise<void>;
  subscribe(filters: string[]): Promise<void>;
  onMessage(handler: (topic: string, payload: Buffer) => void): void;
  /** The broker or the network ended the connection. */
  onClose(handler: () => void): void;
  close(): Promise<void>;
}

/** Opens a connection with `identity` as client id `clientId`; rejects when the broker refuses it. */
export type Connector = (identity: Identity, clientId: string) => Promise<AgentConnection>;

export type KeyAlgorithm = 'EC-P256' | 'RSA-2048';

/** The job document of a rotation (docs/rotation-protocol.md). */
interface RotationDocument {
  operation: 'rotate-certificate';
  keyAlgorithm?: KeyAlgorithm;
}

interface JobExecution {
  jobId: string;
  status: string;
  versionNumber: number;
  jobDocument?: unknown;
}

export type AgentEvent =
  | { event: 'connected'; with: 'current' | 'new' }
  | { event: 'refused'; with: 'current' | 'new'; error: string }
  | { event: 'phase'; phase: Phase; jobId?: string }
  | { event: 'reported'; jobId: string; status: string; reason?: string }
  | { event: 'csr-resent'; jobId: string; attempt: number };

export interface AgentOptions {
  thingName: string;
  files: DeviceFiles;
  connect: Connector;
  /** How long to wait for an answer (Jobs API, rotation backend). Default 30 s. */
  replyTimeoutMs?: number;
  /**
   * How many times the CSR is sent (same clientToken) before the rotation fails `no-certificate`. Default 4: the
   * backend takes CSRs a few at a time (its reserved concurrency), so a wave's burst queues for a while; a re-sent
   * CSR gets the same certificate (protocol §3.3).
   */
  csrAttempts?: number;
  /** Progress, for the CLI and tests: never a key. */
  onEvent?: (event: AgentEvent) => void;
}

export class RotationError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const IDLE: RotationState = { phase: 'idle' };

interface Waiter {
  match: (topic: string, body: Record<string, unknown>) => boolean;
  resolve: (body: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** What a long-running agent retries after a pause (a network outage looks like all three). */
const RETRYABLE = new Set(['connection-lost', 'no-working-certificate', 'no-answer', 'not-connected']);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A new key made on the device, PKCS#8 PEM. */
export function generatePrivateKey(algorithm: KeyAlgorithm): string {
  const pair =
    algorithm === 'RSA-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A PKCS#10 request for the key, its subject naming the thing (CN and serialNumber: either admission source). */
export async function csrFor(privateKeyPem: string, thingName: string): Promise<string> {
  const key = createPrivateKey(privateKeyPem);
  const rsa = key.asymmetricKeyType === 'rsa';
  const algorithm = rsa ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
  const jwk = key.export({ format: 'jwk' });
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  const publicKey = await webcrypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ '2.5.4.3': [thingName] }, { '2.5.4.5': [thingName] }],
    keys: { privateKey, publicKey } as never,
    signingAlgorithm: algorithm,
  });
  return csr.toString('pem');
}

const isRotationDocument = (document: unknown): document is RotationDocument =>
  typeof document === 'object' && document !== null && (document as { operation?: unknown }).operation === 'rotate-certificate';

export class RotationAgent {
  private connection: AgentConnection | undefined;
  private connectedAs: 'current' | 'new' | undefined;
  private readonly waiters = new Set<Waiter>();
  private lost = false;
  private readonly notified: JobExecution[] = [];
  private wake: (() => void) | undefined;
  private readonly jobsTopic: string;
  private readonly rotationTopic: string;

  constructor(private readonly options: AgentOptions) {
    this.jobsTopic = `$aws/things/${options.thingName}/jobs`;
    this.rotationTopic = `device/${options.thingName}/rotation`;
  }

  private get timeoutMs(): number {
    return this.options.replyTimeoutMs ?? 30_000;
  }

  private emit(event: AgentEvent): void {
    this.options.onEvent?.(event);
  }

  async readState(): Promise<RotationState> {
    const text = await this.options.files.read(FILES.state);
    if (!text) return IDLE;
    try {
      return JSON.parse(text) as RotationState;
    } catch {
      // Written atomically, so never torn; unreadable means edited by hand: start over with the current pair.
      return IDLE;
    }
  }

  private async setState(state: RotationState): Promise<void> {
    await this.options.files.write(FILES.state, `${JSON.stringify(state)}\n`);
    this.emit({ event: 'phase', phase: state.phase, ...(state.jobId ? { jobId: state.jobId } : {}) });
  }

  private async pair(certificate: string, key: string): Promise<Identity | undefined> {
    const [certificatePem, privateKeyPem] = await Promise.all([this.options.files.read(certificate), this.options.files.read(key)]);
    return certificatePem && privateKeyPem ? { certificatePem, privateKeyPem } : undefined;
  }

  /**
   * Runs until stopped: resumes a rotation left by a restart, then serves rotation jobs as they come.
   * With `once`, returns when no job is pending.
   */
  async run(options: { once?: boolean; signal?: AbortSignal; retryDelayMs?: number } = {}): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.resume();
        await this.serveJobs(options);
        break;
      } catch (error) {
        // The state file says where the rotation is: resuming after an outage is the same as after a restart.
        if (options.once || options.signal?.aborted || !(error instanceof RotationError && RETRYABLE.has(error.reason))) {
          await this.connection?.close().catch(() => undefined);
          throw error;
        }
        await sleep(Math.min(60_000, (options.retryDelayMs ?? 1_000) * 2 ** Math.min(attempt, 6)));
      }
    }
    const last = this.connection;
    this.connection = undefined;
    this.connectedAs = undefined;
    await last?.close();
  }

  /** After a restart: finish or undo what the state file says, and leave the agent connected. */
  async resume(): Promise<void> {
    let state = await this.readState();
    if (state.phase === 'committed') state = await this.promote(state);
    if (state.phase === 'failed') state = await this.rollBack(state);
    if (state.phase === 'certificate-received' || state.phase === 'connected-with-new') {
      // The new pair decides: if it connects, the rotation goes on; if it is refused (revoked, rolled back by the
      // backend), the old pair is kept and the job fails.
      if (await this.connectNew()) {
        if (state.phase === 'certificate-received') await this.setState((state = { ...state, phase: 'connected-with-new' }));
        await this.confirm(state);
        return;
      }
      state = await this.rollBack({ ...state, phase: 'failed', failure: { status: 'FAILED', reason: 'new-certificate-refused', report: true } });
    }
    if (!this.connection) await this.connectCurrent();
    if (state.phase === 'key-generated') await this.requestCertificate(state);
  }

  /**
   * Connects with the new pair. False only when the broker refuses it while it accepts the current pair, and
   * refuses it again right after (so an outage that just ended is not taken for a refusal): the rotation then
   * fails. When neither pair connects, the network is down or the broker unreachable: throws (retryable) and
   * keeps the state, so an outage never abandons a rotation.
   */
  private async connectNew(): Promise<boolean> {
    if (await this.tryConnect('new')) return true;
    if (!(await this.tryConnect('current'))) throw new RotationError('no-working-certificate', `${this.options.thingName}: neither the new nor the current certificate connects`);
    return this.tryConnect('new');
  }

  private async connectCurrent(): Promise<void> {
    if (!(await this.tryConnect('current'))) throw new RotationError('no-working-certificate', `${this.options.thingName}: the current certificate was refused`);
  }

  private async tryConnect(which: 'current' | 'new'): Promise<boolean> {
    // Forgotten before it closes: its close is not a lost connection.
    const previous = this.connection;
    this.connection = undefined;
    this.connectedAs = undefined;
    await previous?.close();
    const identity = which === 'current' ? await this.pair(FILES.certificate, FILES.key) : await this.pair(FILES.nextCertificate, FILES.nextKey);
    if (!identity) {
      this.emit({ event: 'refused', with: which, error: 'no such files' });
      return false;
    }
    let connection: AgentConnection | undefined;
    try {
      connection = await this.options.connect(identity, this.options.thingName);
      const opened = connection;
      connection.onMessage((topic, payload) => this.onMessage(topic, payload));
      connection.onClose(() => {
        if (this.connection !== opened) return;
        this.connection = undefined;
        this.connectedAs = undefined;
        this.lost = true;
        for (const waiter of this.waiters) waiter.reject(new RotationError('connection-lost', 'the connection closed'));
        this.waiters.clear();
        this.wake?.();
      });
      await connection.subscribe([
        `${this.jobsTopic}/notify-next`,
        `${this.jobsTopic}/start-next/accepted`,
        `${this.jobsTopic}/start-next/rejected`,
        `${this.jobsTopic}/+/update/accepted`,
        `${this.jobsTopic}/+/update/rejected`,
        `${this.jobsTopic}/+/get/accepted`,
        `${this.jobsTopic}/+/get/rejected`,
        `${this.rotationTopic}/certificate`,
      ]);
      this.connection = connection;
      this.connectedAs = which;
      this.lost = false;
      this.emit({ event: 'connected', with: which });
      return true;
    } catch (error) {
      await connection?.close().catch(() => undefined);
      this.emit({ event: 'refused', with: which, error: (error as Error).message });
      return false;
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    if (topic === `${this.jobsTopic}/notify-next`) {
      const execution = body.execution as JobExecution | undefined;
      if (execution) this.notified.push(execution);
      this.wake?.();
      return;
    }
    for (const waiter of this.waiters) {
      if (waiter.match(topic, body)) {
        this.waiters.delete(waiter);
        waiter.resolve(body);
      }
    }
  }

  /** Publishes a request and waits for the first answer `match` accepts. */
  private async request(topic: string, payload: object, match: (topic: string, body: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const connection = this.connection;
    if (!connection) throw new RotationError('not-connected', 'not connected');
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const answered = new Promise<Record<string, unknown>>((resolve, reject) => {
      waiter = { match, resolve, reject };
      this.waiters.add(waiter);
      timer = setTimeout(() => reject(new RotationError('no-answer', `no answer to ${topic} within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    answered.catch(() => undefined);
    try {
      try {
        await connection.publish(topic, JSON.stringify(payload));
      } catch (error) {
        throw new RotationError('connection-lost', `publish to ${topic}: ${(error as Error).message}`);
      }
      return await answered;
    } finally {
      clearTimeout(timer);
      if (waiter) this.waiters.delete(waiter);
    }
  }

  private jobsRequest(path: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const clientToken = randomUUID();
    const base = `${this.jobsTopic}/${path}`;
    return this.request(base, { ...payload, clientToken }, (topic, body) => (topic === `${base}/accepted` || topic === `${base}/rejected`) && body.clientToken === clientToken).then(
      (body) => ({ ...body, accepted: body.code === undefined }),
    );
  }

  private async serveJobs(options: { once?: boolean; signal?: AbortSignal }): Promise<void> {
    for (;;) {
      if (options.signal?.aborted) return;
      // StartNextPendingJobExecution: the next IN_PROGRESS or QUEUED execution, now IN_PROGRESS.
      const answer = await this.jobsRequest('start-next', {});
      const execution = answer.execution as JobExecution | undefined;
      if (execution) {
        await this.handle(execution);
        continue;
      }
      if (options.once) return;
      // Stopped while the request was under way: an abort that already happened fires no listener.
      if (options.signal?.aborted) return;
      const { signal } = options;
      let stopWaiting: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        stopWaiting = () => resolve();
        signal?.addEventListener('abort', stopWaiting, { once: true });
        if (this.notified.length) resolve();
      });
      if (stopWaiting) signal?.removeEventListener('abort', stopWaiting);
      this.notified.length = 0;
      this.wake = undefined;
      if (this.lost) throw new RotationError('connection-lost', 'the connection closed');
    }
  }

  /** One job execution, IN_PROGRESS. */
  async handle(execution: JobExecution): Promise<void> {
    const state = await this.readState();
    if (state.phase !== 'idle' && state.jobId === execution.jobId) {
      // Already under way (a restart found it): resume() has carried it as far as it could.
      if (state.phase === 'key-generated') return this.requestCertificate({ ...state, versionNumber: execution.versionNumber });
      return;
    }
    if (!isRotationDocument(execution.jobDocument)) {
      await this.report(execution.jobId, execution.versionNumber, 'REJECTED', 'unsupported-operation');
      return;
    }
    const algorithm = execution.jobDocument.keyAlgorithm ?? 'EC-P256';
    if (algorithm !== 'EC-P256' && algorithm !== 'RSA-2048') {
      await this.report(execution.jobId, execution.versionNumber, 'REJECTED', 'unsupported-key-algorithm');
      return;
    }
    // The key first, then the phase that names it: a power loss in between leaves a stray .next key and an
    // idle state, and the job (still IN_PROGRESS) starts over with a fresh key.
    await this.options.files.write(FILES.nextKey, generatePrivateKey(algorithm));
    const next: RotationState = { phase: 'key-generated', jobId: execution.jobId, clientToken: randomUUID(), versionNumber: execution.versionNumber };
    await this.setState(next);
    await this.requestCertificate(next);
  }

  /** key-generated: send the CSR (again after a restart, same clientToken) and take the certificate. */
  private async requestCertificate(state: RotationState): Promise<void> {
    const privateKeyPem = await this.options.files.read(FILES.nextKey);
    if (!privateKeyPem) return this.fail(state, 'FAILED', 'key-lost');
    const csr = await csrFor(privateKeyPem, this.options.thingName);
    let answer: Record<string, unknown> | undefined;
    const attempts = Math.max(1, this.options.csrAttempts ?? 4);
    for (let attempt = 1; !answer; attempt++) {
      try {
        // Each attempt waits for an answer to any of them: the same clientToken, so the same certificate.
        answer = await this.request(`${this.rotationTopic}/csr`, { jobId: state.jobId, clientToken: state.clientToken, csr }, (topic, body) => topic === `${this.rotationTopic}/certificate` && body.clientToken === state.clientToken);
      } catch (error) {
        if (!(error instanceof RotationError && error.reason === 'no-answer')) throw error;
        if (attempt >= attempts) return this.fail(state, 'FAILED', 'no-certificate');
        this.emit({ event: 'csr-resent', jobId: state.jobId!, attempt: attempt + 1 });
      }
    }
    const refused = answer.error as { reason?: string } | undefined;
    if (refused) return this.fail(state, 'FAILED', `backend:${refused.reason ?? 'unknown'}`);
    const certificatePem = typeof answer.certificatePem === 'string' ? answer.certificatePem : '';
    if (!matches(certificatePem, privateKeyPem)) return this.fail(state, 'FAILED', 'certificate-key-mismatch');
    await this.options.files.write(FILES.nextCertificate, certificatePem);
    const received: RotationState = { ...state, phase: 'certificate-received', certificateId: String(answer.certificateId ?? '') };
    await this.setState(received);
    if (!(await this.connectNew())) {
      await this.rollBack({ ...received, phase: 'failed', failure: { status: 'FAILED', reason: 'new-certificate-refused', report: true } });
      return;
    }
    const connected: RotationState = { ...received, phase: 'connected-with-new' };
    await this.setState(connected);
    await this.confirm(connected);
  }

  /** connected-with-new: report SUCCEEDED (expectedVersion), then commit; a job that ended otherwise rolls back. */
  private async confirm(state: RotationState): Promise<void> {
    const jobId = state.jobId!;
    let version = state.versionNumber;
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await this.jobsRequest(`${jobId}/update`, {
        status: 'SUCCEEDED',
        statusDetails: { certificateId: state.certificateId ?? '' },
        ...(version !== undefined ? { expectedVersion: version } : {}),
        includeJobExecutionState: true,
      });
      if (answer.accepted) {
        this.emit({ event: 'reported', jobId, status: 'SUCCEEDED' });
        await this.promote({ ...state, phase: 'committed' });
        return;
      }
      // VersionMismatch, or an update already applied before a power loss: read the execution as it is.
      const described = await this.jobsRequest(`${jobId}/get`, {});
      const execution = described.execution as { status?: string; versionNumber?: number } | undefined;
      if (execution?.status === 'SUCCEEDED') return void (await this.promote({ ...state, phase: 'committed' }));
      if (execution?.status !== 'IN_PROGRESS') {
        // Timed out, canceled or removed: the backend rolls the new certificate back; keep the old pair.
        await this.rollBack({ ...state, phase: 'failed', failure: { status: 'FAILED', reason: `job-${(execution?.status ?? 'gone').toLowerCase()}`, report: false } });
        return;
      }
      version = execution.versionNumber;
    }
    throw new RotationError('update-refused', `${jobId}: the job execution update was refused three times`);
  }

  /** committed: the new pair replaces the current one (each rename resumable), then idle. */
  private async promote(state: RotationState): Promise<RotationState> {
    if ((await this.readState()).phase !== 'committed') await this.setState(state);
    await this.options.files.rename(FILES.nextKey, FILES.key);
    await this.options.files.rename(FILES.nextCertificate, FILES.certificate);
    await this.setState(IDLE);
    return IDLE;
  }

  private async fail(state: RotationState, status: 'FAILED' | 'REJECTED', reason: string): Promise<void> {
    await this.rollBack({ ...state, phase: 'failed', failure: { status, reason, report: true } });
  }

  /** failed: drop the new files, keep (and connect with) the current pair, tell the job why, then idle. */
  private async rollBack(state: RotationState): Promise<RotationState> {
    if ((await this.readState()).phase !== 'failed') await this.setState(state);
    await this.options.files.remove(FILES.nextCertificate);
    await this.options.files.remove(FILES.nextKey);
    if (this.connectedAs !== 'current') await this.connectCurrent();
    if (state.failure?.report && state.jobId) await this.report(state.jobId, state.versionNumber, state.failure.status, state.failure.reason);
    await this.setState(IDLE);
    return IDLE;
  }

  private async report(jobId: string, version: number | undefined, status: 'FAILED' | 'REJECTED', reason: string): Promise<void> {
    const answer = await this.jobsRequest(`${jobId}/update`, { status, statusDetails: { reason }, ...(version !== undefined ? { expectedVersion: version } : {}) });
    if (!answer.accepted) {
      // A stale version (or a job already over): once more without expectedVersion, the failure must get through.
      await this.jobsRequest(`${jobId}/update`, { status, statusDetails: { reason } });
    }
    this.emit({ event: 'reported', jobId, status, reason });
  }
}

/** Whether the certificate is for this key. */
function matches(certificatePem: string, privateKeyPem: string): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}
