import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { closeServer, listenOn } from '../net';
import { accountOfRequest } from '../iam/access-keys';

/**
 * Lambda's Invoke API on loopback (REST-JSON, as the SDK's Lambda client speaks it): `POST
 * /2015-03-31/functions/{FunctionName}/invocations`, the `X-Amz-Invocation-Type` header `Event` (queued,
 * 202) or `RequestResponse` (the function's answer, 200). The console's redrive re-invokes failed functions
 * through it (shared/failures/redrive.ts); the function is named as AWS names it (name, or ARN), in the
 * account the request's access key names. Nothing else of the Lambda API is modelled.
 * Lambda API reference, Invoke: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
 */

export interface InvokeTarget {
  invokeAsync(functionArn: string, event: unknown): boolean;
  invoke(functionArn: string, event: unknown, timeoutMs: number): Promise<unknown>;
}

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export class LocalLambdaApi {
  private readonly server: Server;

  constructor(private readonly options: { region: string; defaultAccountId: string; target: InvokeTarget }) {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), ...headers });
      response.end(body === undefined ? '' : JSON.stringify(body));
    };
    const error = (status: number, type: string, message: string) => reply(status, { Type: 'User', message }, { 'x-amzn-errortype': type });
    const match = ROUTE.exec(new URL(request.url ?? '/', 'http://localhost').pathname);
    if (request.method !== 'POST' || !match) return error(404, 'UnknownOperationException', 'Only Invoke is modelled by the local Lambda API.');
    const name = decodeURIComponent(match[1]!);
    const accountId = accountOfRequest(request.headers.authorization, this.options.defaultAccountId);
    const functionArn = name.startsWith('arn:') ? name : `arn:aws:lambda:${this.options.region}:${accountId}:function:${name}`;
    let event: unknown;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      event = text ? JSON.parse(text) : {};
    } catch {
      return error(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'Event') {
      if (!this.options.target.invokeAsync(functionArn, event)) return error(404, 'ResourceNotFoundException', `Function not found: ${functionArn}`);
      return reply(202, undefined);
    }
    if (type !== 'RequestResponse') return error(400, 'InvalidParameterValueException', `InvocationType ${type} is not modelled locally`);
    try {
      return reply(200, await this.options.target.invoke(functionArn, event, 900_000), { 'x-amz-executed-version': '$LATEST' });
    } catch (failure) {
      if (/does not exist/.test((failure as Error).message)) return error(404, 'ResourceNotFoundException', `Function not found: ${functionArn}`);
      return reply(200, { errorType: 'Error', errorMessage: (failure as Error).message }, { 'x-amz-function-error': 'Unhandled' });
    }
  }
}
