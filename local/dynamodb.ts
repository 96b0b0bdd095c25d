import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { closeServer, listenOn } from './net';
import { accountOfRequest } from './iam/access-keys';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/**
 * How DynamoDB is down, for reliability tests:
 * - `unavailable`: every request is answered HTTP 503 `ServiceUnavailable`, DynamoDB's answer when it
 *   "is currently unavailable" (a transient error the SDK retries);
 * - `reset`: the connection is closed without an answer (the SDK sees a socket error);
 * - `stall`: requests get no answer at all until the outage ends, when their connections are closed — the
 *   client's own timeouts decide.
 */
export type DynamoDbOutageMode = 'unavailable' | 'reset' | 'stall';

export interface LocalDynamoDb {
  url: string;
  /** Starts an outage (for `durationMs`, or until called with `undefined`), or ends the current one. */
  setOutage(mode: DynamoDbOutageMode | undefined, durationMs?: number): void;
  /** The current outage, if any. */
  readonly outage: DynamoDbOutageMode | undefined;
  close(): Promise<void>;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** A refusal the server sends instead of serving the request (IAM: AccessDeniedException, an unknown token). */
export interface DynamoDbRefusal {
  status: number;
  body: Record<string, unknown>;
}

export interface DynamoDbOptions {
  /** The account of unsigned requests and foreign keys. */
  defaultAccountId?: string;
  /** Decides before dynalite serves a request (local/iam/): a refusal is answered, undefined lets it through. */
  authorize?: (request: IncomingMessage, body: Buffer) => Promise<DynamoDbRefusal | undefined>;
}

/** The request again, its body read: what dynalite reads of a request (headers, method, url, data events). */
function replay(request: IncomingMessage, body: Buffer): IncomingMessage {
  return Object.assign(Readable.from([body]), { headers: request.headers, method: request.method, url: request.url, socket: request.socket }) as unknown as IncomingMessage;
}

/**
 * DynamoDB on loopback (dynalite, in memory); tables are created ACTIVE at once. Each account has its own
 * tables, as on AWS (a table name is unique per account and region): one dynalite store per account, chosen
 * by the account the request's access key names (local/iam/access-keys.ts; unsigned: `defaultAccountId`).
 */
export async function startDynamoDb(port = 0, host = '127.0.0.1', options: DynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const defaultAccountId = options.defaultAccountId ?? '123456789012';
  const newStore = () => dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const server = newStore();
  // dynalite's own handlers run only while DynamoDB is up; the listening server's store is the default account's.
  const stores = new Map<string, RequestListener[]>([[defaultAccountId, server.listeners('request') as RequestListener[]]]);
  server.removeAllListeners('request');
  const storeOf = (accountId: string) => {
    if (!stores.has(accountId)) stores.set(accountId, newStore().listeners('request') as RequestListener[]);
    return stores.get(accountId)!;
  };
  let outage: DynamoDbOutageMode | undefined;
  let ends: NodeJS.Timeout | undefined;
  const stalled = new Set<ServerResponse>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!outage) {
      if (!options.authorize) {
        for (const listener of storeOf(accountOfRequest(request.headers.authorization, defaultAccountId))) listener.call(server, request, response);
        return;
      }
      void authorized(request, response);
      return;
    }
    request.resume();
    if (outage === 'reset') request.socket.destroy();
    else if (outage === 'stall') {
      stalled.add(response);
      response.once('close', () => stalled.delete(response));
    } else {
      const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ServiceUnavailable', message: 'The service is currently unavailable or busy.' });
      response.writeHead(503, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) }).end(body);
    }
  });
  const authorized = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const refusal = await options.authorize!(request, body).catch((error: unknown) => {
      console.error('[local-dynamodb] authorization failed', error);
      return { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' } };
    });
    if (refusal) {
      const text = JSON.stringify(refusal.body);
      response.writeHead(refusal.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) }).end(text);
      return;
    }
    const again = replay(request, body);
    for (const listener of storeOf(accountOfRequest(request.headers.authorization, defaultAccountId))) listener.call(server, again, response);
  };
  const setOutage = (mode: DynamoDbOutageMode | undefined, durationMs?: number) => {
    clearTimeout(ends);
    outage = mode;
    if (!mode) {
      for (const response of stalled) response.socket?.destroy();
      stalled.clear();
    } else if (durationMs !== undefined) {
      ends = setTimeout(() => setOutage(undefined), durationMs);
      ends.unref();
    }
  };

  const boundPort = await listenOn(server, port, host);
  return {
    url: `http://${host}:${boundPort}`,
    setOutage,
    get outage() {
      return outage;
    },
    close: () => {
      setOutage(undefined);
      return closeServer(server);
    },
  };
}
