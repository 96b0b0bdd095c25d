/**
 * Stands in for the pre-signed S3 URL CloudFormation gives a custom resource (`ResponseURL`): takes the
 * PUT, and judges the answer as CloudFormation would (aws-iot-reference §7): Status SUCCESS or FAILED,
 * a Reason when FAILED, a non-empty PhysicalResourceId of at most 1 KB, the request's StackId, RequestId
 * and LogicalResourceId, and the whole body at most 4,096 bytes. Like S3, it accepts any PUT; what
 * CloudFormation would make of it is in `problems`.
 *
 * Served by the control plane at `/_local/cloudformation-responses/<id>` (PUT stores, GET reads).
 */

export interface ReceivedResponse {
  id: string;
  receivedAt: string;
  contentType: string | undefined;
  bytes: number;
  body: Record<string, unknown> | undefined;
  /** Empty when CloudFormation would accept the answer. */
  problems: string[];
}

const MAX_BYTES = 4096;

export class ResponseReceiver {
  private readonly responses = new Map<string, ReceivedResponse[]>();
  private readonly waiters = new Map<string, Array<(response: ReceivedResponse) => void>>();

  receive(id: string, raw: Buffer, contentType: string | undefined): ReceivedResponse {
    const problems: string[] = [];
    let body: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(raw.toString('utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      else problems.push('the body is not a JSON object');
    } catch {
      problems.push('the body is not JSON');
    }
    if (raw.length > MAX_BYTES) problems.push(`the body is ${raw.length} bytes; CloudFormation takes at most ${MAX_BYTES}`);
    if (body) {
      if (body.Status !== 'SUCCESS' && body.Status !== 'FAILED') problems.push('Status must be SUCCESS or FAILED');
      if (body.Status === 'FAILED' && (typeof body.Reason !== 'string' || !body.Reason)) problems.push('a FAILED answer needs a Reason');
      const physicalId = body.PhysicalResourceId;
      if (typeof physicalId !== 'string' || !physicalId || Buffer.byteLength(physicalId) > 1024) problems.push('PhysicalResourceId must be 1 to 1024 bytes');
      for (const field of ['StackId', 'RequestId', 'LogicalResourceId']) {
        if (typeof body[field] !== 'string' || !body[field]) problems.push(`${field} is missing`);
      }
      if (body.Data !== undefined && (typeof body.Data !== 'object' || body.Data === null || Array.isArray(body.Data))) problems.push('Data must be an object');
    }
    const response: ReceivedResponse = { id, receivedAt: new Date().toISOString(), contentType, bytes: raw.length, body, problems };
    this.responses.set(id, [...(this.responses.get(id) ?? []), response]);
    for (const resolve of this.waiters.get(id)?.splice(0) ?? []) resolve(response);
    return response;
  }

  /** Every answer PUT to the id, oldest first. */
  received(id: string): ReceivedResponse[] {
    return this.responses.get(id) ?? [];
  }

  /** The next answer to the id (or the first, if it already came). */
  next(id: string, timeoutMs = 30_000): Promise<ReceivedResponse> {
    const existing = this.responses.get(id)?.[0];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ResponseURL ${id} within ${timeoutMs} ms`)), timeoutMs);
      const waiters = this.waiters.get(id) ?? [];
      waiters.push((response) => {
        clearTimeout(timer);
        resolve(response);
      });
      this.waiters.set(id, waiters);
    });
  }
}
