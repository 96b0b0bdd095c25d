import { request } from 'node:https';
import type { Identity } from './mqtt-connection';

/**
 * The credential provider as a device calls it (aws-iot-reference §6, seed 003's curl): HTTPS with mutual
 * TLS to the `iot:CredentialProvider` endpoint, `GET /role-aliases/<alias>/credentials`, optionally with
 * `x-amzn-iot-thingname` (which must name a thing attached to the certificate, else 403).
 */

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

export type CredentialsAnswer =
  | { status: 200; credentials: RoleCredentials }
  | { status: number; message: string };

export function fetchRoleCredentials(options: {
  /** `https://<prefix>.credentials.iot.<region>.amazonaws.com` (a port may follow the host). */
  endpoint: string;
  roleAlias: string;
  thingName?: string;
  identity: Identity;
  /** The server's CA; Node's built-in roots (with Amazon Root CA 1) when absent. */
  caPem?: string;
  servername?: string;
  timeoutMs?: number;
}): Promise<CredentialsAnswer> {
  const url = new URL(`/role-aliases/${encodeURIComponent(options.roleAlias)}/credentials`, options.endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        cert: options.identity.certificatePem,
        key: options.identity.privateKeyPem,
        ...(options.caPem ? { ca: options.caPem } : {}),
        ...(options.servername ? { servername: options.servername } : {}),
        headers: { accept: 'application/json', ...(options.thingName !== undefined ? { 'x-amzn-iot-thingname': options.thingName } : {}) },
        timeout: options.timeoutMs ?? 10_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // Not JSON: keep the status and the text.
          }
          const status = response.statusCode ?? 0;
          const credentials = body.credentials as RoleCredentials | undefined;
          if (status === 200 && credentials?.accessKeyId && credentials.secretAccessKey && credentials.sessionToken) {
            resolve({ status: 200, credentials });
          } else {
            resolve({ status: status === 200 ? 502 : status, message: String(body.message ?? (text.slice(0, 200) || `HTTP ${status}`)) });
          }
        });
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}
