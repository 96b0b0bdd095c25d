import { randomUUID } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { deviceFiles, parseDeviceId } from './device';
import { checkWritable, readInput, writeOutputs } from './files';
// The vending API's 201 answer: the type of the function that gives it.
import type { VendAnswer } from '../shared/provisioning/vend-certificate';
import { signedFetch, type SignedResponse } from '../lib/sigv4';
import { CliError, useTarget, type TargetOptions } from './target';

/**
 * `vend <deviceId>`: certificate vending through the stack's HTTP API, which is IAM-authorized — the
 * request is SigV4-signed with the caller's AWS credentials (on the local IoT Core: access key id = the
 * account id, secret `local`). `POST /devices/{deviceId}/certificate` with `{csr?, rotate?}` and an
 * Idempotency-Key, or `DELETE` to revoke.
 */

export interface VendOptions extends TargetOptions {
  csr?: string;
  rotate?: boolean;
  revoke?: boolean;
  idempotencyKey?: string;
  out?: string;
  force?: boolean;
  apiUrl?: string;
}

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{8,128}$/;
const MAX_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseBody(text: string): Record<string, unknown> {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The region to sign for: the environment's, else the one in an execute-api host name. */
function signingRegion(url: URL): string {
  const fromHost = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1];
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? fromHost;
  if (!region) throw new CliError('no region to sign the request for: pass --region');
  return region;
}

/** Every answer of the vending API, and of API Gateway's IAM check in front of it, in the operator's terms. */
export function explainVendingAnswer(response: Pick<SignedResponse, 'status' | 'text'>, context: { deviceId: string; revoke: boolean; key: string; url: URL }): string {
  const body = parseBody(response.text);
  const reason = typeof body.reason === 'string' ? body.reason : undefined;
  const message = typeof body.message === 'string' ? body.message : response.text.slice(0, 200);
  const rerun = context.revoke ? '' : ` (re-running with --idempotency-key ${context.key} is safe)`;
  switch (response.status) {
    case 400: {
      const issues = Array.isArray(body.issues) ? (body.issues as Array<{ path?: string; message?: string }>).map((i) => `${i.path || 'request'}: ${i.message}`) : [];
      return `the request was refused (400 ${reason ?? message})${issues.length ? `:\n  ${issues.join('\n  ')}` : ''}`;
    }
    case 401:
    case 403:
      if (reason === 'device-not-allowlisted') return `${context.deviceId} is not allow-listed (403); allow it first: iot-provisioner devices allow ${context.deviceId}`;
      if (reason === 'device-blocked') return `${context.deviceId} is blocked in the registry (403)`;
      if (reason === 'device-suspended') return `${context.deviceId} is suspended (403); resume it first: iot-provisioner devices resume ${context.deviceId}`;
      if (reason === 'device-retired') return `${context.deviceId} is retired (403); to refurbish it, allow it again: iot-provisioner devices allow ${context.deviceId}`;
      if (reason) return `vending ${context.deviceId} is not allowed (403 ${reason})`;
      // API Gateway's IAM authorizer: the signature or the caller's permissions.
      return `IAM refused the request (${response.status}: ${message}): your credentials need execute-api:Invoke on ${context.revoke ? 'DELETE' : 'POST'} /devices/*/certificate of this API (check --profile / --region)`;
    case 404:
      if (reason === 'no-certificate') return `${context.deviceId} has no certificate to revoke (404)`;
      return `no vending route at ${context.url.origin} (404 ${message}): is --api-url the stack's HttpApiUrl output?`;
    case 409:
      if (reason === 'device-already-bound') return `${context.deviceId} already has an ACTIVE certificate (409): pass --rotate to replace it (the old one keeps working for the grace period, then is retired)`;
      if (reason === 'request-in-progress') return `an earlier request with Idempotency-Key ${context.key} is still running (409); run the same command again in a moment`;
      return `conflict (409 ${reason ?? message})`;
    case 429:
      return `the vending API is throttling (429); try again in a moment${rerun}`;
    default:
      return response.status >= 500
        ? `the vending API failed (${response.status} ${message})${rerun}`
        : `unexpected answer ${response.status}: ${message}`;
  }
}

export async function vendCommand(deviceId: string | undefined, options: VendOptions, out: (line: string) => void, progress: (line: string) => void): Promise<number> {
  const id = parseDeviceId(deviceId);
  if (options.revoke && (options.csr || options.rotate || options.idempotencyKey || options.out || options.force)) {
    throw new CliError('--revoke takes none of --csr, --rotate, --idempotency-key, --out, --force');
  }
  if (options.idempotencyKey !== undefined && !KEY_PATTERN.test(options.idempotencyKey)) {
    throw new CliError('--idempotency-key must be 8-128 of [A-Za-z0-9_.:-]');
  }
  const csrPem = options.csr ? readInput(options.csr, 'CSR') : undefined;
  if (csrPem && !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) throw new CliError(`--csr ${options.csr} is not a PEM certificate request`);
  const files = deviceFiles(options.out, id);
  // A generated key is returned once: refuse before asking rather than lose it afterwards.
  if (!options.revoke) checkWritable(csrPem ? [files.certificate] : [files.certificate, files.key], options.force);

  const target = await useTarget(options);
  const apiUrl = options.apiUrl ?? target.local?.http;
  if (!apiUrl) {
    throw new CliError(
      target.local
        ? 'the local IoT Core runs without its HTTP API; restart it with: npm run emulator'
        : `pass --api-url: the stack's HttpApiUrl output — npx serverless info --stage ${target.stage} --verbose, or aws cloudformation describe-stacks --stack-name iot-provisioner-${target.stage} --query "Stacks[0].Outputs[?OutputKey=='HttpApiUrl'].OutputValue" --output text`,
    );
  }
  let url: URL;
  try {
    url = new URL(`devices/${encodeURIComponent(id)}/certificate`, apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
  } catch {
    throw new CliError(`--api-url is not a URL: ${apiUrl}`);
  }
  const region = signingRegion(url);
  const credentials = defaultProvider();
  const key = options.idempotencyKey ?? `cli-${randomUUID()}`;
  const method = options.revoke ? 'DELETE' : 'POST';
  const body = options.revoke ? undefined : JSON.stringify({ ...(csrPem ? { csr: csrPem } : {}), ...(options.rotate ? { rotate: true } : {}) });

  let response: SignedResponse | undefined;
  for (let attempt = 1; ; attempt++) {
    progress(`${method} ${url.href}${options.revoke ? '' : ` (Idempotency-Key ${key})`}…`);
    try {
      response = await signedFetch(url, { method, region, credentials, ...(body !== undefined ? { body, headers: { 'idempotency-key': key } } : {}) });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'CredentialsProviderError') throw new CliError(`no AWS credentials to sign the request with (${(error as Error).message}); pass --profile or set AWS credentials`);
      if (attempt >= MAX_ATTEMPTS) throw new CliError(`cannot reach ${url.origin}: ${(error as Error).message}${options.revoke ? '' : ` (re-running with --idempotency-key ${key} is safe)`}`, { exitCode: 1 });
      progress(`  ${(error as Error).message}; retrying`);
      await sleep(1000 * attempt);
      continue;
    }
    // Same Idempotency-Key: a retry returns the first answer instead of vending twice. DELETE is idempotent.
    const retriable = response.status === 429 || response.status >= 500 || (response.status === 409 && parseBody(response.text).reason === 'request-in-progress');
    if (!retriable || attempt >= MAX_ATTEMPTS) break;
    progress(`  ${response.status}; retrying in ${attempt} s with the same key`);
    await sleep(1000 * attempt);
  }

  const context = { deviceId: id, revoke: options.revoke === true, key, url };
  if (options.revoke) {
    if (response.status !== 200) throw new CliError(explainVendingAnswer(response, context), { exitCode: 1 });
    const answer = parseBody(response.text);
    out(`revoked certificate ${String(answer.certificateId)} of ${id}: it can no longer connect, and the device may be vended a new one`);
    return 0;
  }
  if (response.status !== 201) throw new CliError(explainVendingAnswer(response, context), { exitCode: 1 });
  const answer = parseBody(response.text) as unknown as VendAnswer;
  if (!answer.certificatePem || !answer.certificateId) throw new CliError(`the vending API answered 201 without a certificate: ${response.text.slice(0, 200)}`, { exitCode: 1 });
  if (!csrPem && !answer.privateKey) throw new CliError('the vending API answered without the private key (was this key used for a request with a CSR?)', { exitCode: 1 });

  const replayed = response.headers.get('idempotent-replayed') === 'true';
  out(`vended certificate ${answer.certificateId} for ${id} (thing ${answer.thingName}), ACTIVE${replayed ? ' — the stored answer to the earlier request with this Idempotency-Key' : ''}`);
  writeOutputs(
    [
      { label: 'certificate', path: files.certificate, content: answer.certificatePem },
      ...(answer.privateKey ? [{ label: 'private key', path: files.key, content: answer.privateKey, secret: true }] : []),
    ],
    options.force,
    out,
  );
  out(`  certificate arn       ${answer.certificateArn}`);
  if (answer.endpoints?.data) out(`  MQTT endpoint         ${answer.endpoints.data}${target.local ? ` (locally: port ${target.local.mqtt?.port ?? '?'})` : ':8883'}`);
  if (answer.endpoints?.credentials) out(`  credentials endpoint  ${answer.endpoints.credentials}`);
  if (answer.roleAlias) out(`  role alias            ${answer.roleAlias}`);
  if (answer.rootCaUrl) out(`  server CA             ${answer.rootCaUrl}`);
  if (answer.rotation) out(`  rotation              previous certificate ${answer.rotation.previousCertificateId} is retired at ${answer.rotation.retiresAt}`);
  out(`  Idempotency-Key       ${key}`);
  out(
    `next: iot-provisioner device connect ${answer.thingName} --cert ${files.certificate} --key ${answer.privateKey ? files.key : '<the key of your CSR>'}${target.local ? ' --local' : ''}`,
  );
  return 0;
}
