import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { closeServer, listenOn } from '../net';
import { temporaryAccessKeyId } from '../iam/access-keys';
import { DeviceTls, type DeviceEndpointOptions } from './device-tls';
import { evaluatePolicies, resolveConnectionThing } from './policy-evaluator';

/**
 * The credential provider (aws-iot-reference §6, seed 003): over mutual TLS, a device with an ACTIVE
 * certificate trades it for temporary credentials of the role behind a role alias —
 * `GET /role-aliases/<alias>/credentials`, optional `x-amzn-iot-thingname`. The certificate's policies must
 * allow `iot:AssumeRoleWithCertificate` on the alias; a thing name must name a thing attached to the
 * certificate (403 otherwise). The credentials are local stand-ins; the local S3 accepts any.
 */

export interface IssuedCredentials {
  roleArn: string;
  thingName?: string;
  certificateId: string;
  expiration: string;
}

const base62 = (bytes: number) => randomBytes(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, bytes);

export class CredentialsEndpoint {
  private readonly server: Server;
  private readonly tls: DeviceTls;
  /** What was issued, for tests and the sandbox (never the secret). */
  readonly issued: IssuedCredentials[] = [];

  constructor(
    private readonly options: DeviceEndpointOptions & {
      /** Told of every key issued, so that the local S3 accepts it (seed 003 step 3: `aws s3 cp` with it). */
      onIssued?: (accountId: string, accessKeyId: string, secretAccessKey: string) => void;
    },
  ) {
    this.tls = new DeviceTls(options.registry, options.issuer, options.tls);
    this.server = createServer(this.tls.serverOptions(), (request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      try {
        const answer = this.answer(request.socket as TLSSocket, request.method ?? 'GET', request.url ?? '/', request.headers['x-amzn-iot-thingname']);
        send(answer.status, answer.body);
      } catch {
        send(500, { message: 'Internal error' });
      }
    });
    // The device endpoints' TLS rule (device-tls.ts): a certificate the gateway does not admit — e.g. one
    // signed by an unregistered intermediate of a registered root — loses the connection before any HTTP byte.
    this.server.on('secureConnection', (socket: TLSSocket) => {
      const handshake = options.gateway.verifyHandshake(DeviceTls.peerChain(socket), typeof socket.servername === 'string' ? socket.servername : undefined);
      if (!handshake.ok) socket.destroy();
    });
  }

  private answer(socket: TLSSocket, method: string, url: string, thingHeader: string | string[] | undefined): { status: number; body: unknown } {
    const forbidden = (message: string) => ({ status: 403, body: { message } });
    const match = /^\/role-aliases\/([^/?]+)\/credentials(?:\?.*)?$/.exec(url);
    if (method !== 'GET' || !match) return { status: 404, body: { message: 'Not found' } };
    const handshake = this.options.gateway.verifyHandshake(DeviceTls.peerChain(socket), typeof socket.servername === 'string' ? socket.servername : undefined);
    if (!handshake.ok) return forbidden(`Certificate not accepted: ${handshake.reason}`);
    const { account, certificateId } = handshake;
    const certificate = account.certificates.find(certificateId);
    if (!certificate || certificate.status !== 'ACTIVE') return forbidden('The certificate is not ACTIVE.');
    const alias = account.roleAliases.find(decodeURIComponent(match[1]!));
    if (!alias) return { status: 404, body: { message: 'Role alias does not exist.' } };

    const attachments = account.things.thingsOf(certificate.certificateArn).map(({ thingName, type }) => ({ thingName, exclusive: type === 'EXCLUSIVE_THING' }));
    const thingName = Array.isArray(thingHeader) ? thingHeader[0] : thingHeader;
    if (thingName !== undefined && !attachments.some((a) => a.thingName === thingName)) {
      // The header must name a thing attached to the certificate (aws-iot-reference §6).
      return forbidden('The thing is not attached to the certificate.');
    }
    const context = thingName !== undefined ? { clientId: '', thingName, thingAttached: true } : { clientId: '', ...resolveConnectionThing('', attachments) };
    const documents = account.policies.documentsFor(certificate.certificateArn);
    const decision = evaluatePolicies(documents, { action: 'iot:AssumeRoleWithCertificate', resource: alias.roleAliasArn }, context);
    if (!decision.allowed) return forbidden('The certificate is not allowed to assume the role alias.');

    const now = this.options.now?.() ?? new Date();
    const expiration = new Date(now.getTime() + alias.credentialDurationSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.issued.push({ roleArn: alias.roleArn, ...(thingName ? { thingName } : {}), certificateId, expiration });
    const accessKeyId = temporaryAccessKeyId(account.accountId);
    const secretAccessKey = base62(40);
    this.options.onIssued?.(account.accountId, accessKeyId, secretAccessKey);
    return {
      status: 200,
      body: {
        credentials: {
          accessKeyId,
          secretAccessKey,
          sessionToken: `IQoJb3JpZ2luX2VjE${base62(120)}`,
          expiration,
        },
      },
    };
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.server, port, host);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }
}
