import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { buildConsole, CONSOLE_DIR, CONSOLE_DIST } from '../../console/build';
import { closeServer, listenOn } from '../net';

/**
 * The console's local hosting, standing in for CloudFront in front of the private bucket: the built files of
 * console/dist (built on first start when missing), `config.json` from the running local IoT Core, and
 * the security headers the stack's response-headers policy sets on AWS (resources/console.cjs). Its own
 * origin, as on AWS, so the page reaches the HTTP API across origins there and here alike.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** The headers CloudFront adds (the stack's ConsoleHeadersPolicy), given where the page may connect. */
export function consoleSecurityHeaders(connectSources: readonly string[]): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data: blob:",
      `connect-src 'self' ${connectSources.join(' ')}`.trim(),
      "media-src 'self' blob:",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self' " + connectSources.join(' '),
      "object-src 'none'",
    ].join('; '),
    'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
}

/** Whether a console source (console/src, index.html) changed after the build (the local host rebuilds then). */
function sourcesNewerThan(built: string): boolean {
  const builtAt = statSync(built).mtimeMs;
  const sources = [join(CONSOLE_DIR, 'index.html'), ...readdirSync(join(CONSOLE_DIR, 'src'), { recursive: true }).map((name) => join(CONSOLE_DIR, 'src', String(name)))];
  return sources.some((file) => statSync(file).mtimeMs > builtAt);
}

export class ConsoleHost {
  private readonly server: Server;
  url = '';

  constructor(
    private readonly options: { config: () => Record<string, unknown>; connectSources: () => readonly string[]; dist?: string },
  ) {
    this.server = createServer((request, response) => this.handle(request, response));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const dist = this.options.dist ?? CONSOLE_DIST;
    if (!existsSync(join(dist, 'index.html')) || (!this.options.dist && sourcesNewerThan(join(dist, 'index.html')))) await buildConsole(dist);
    this.url = `http://${host}:${await listenOn(this.server, port, host)}/`;
    return this.url;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const headers = consoleSecurityHeaders(this.options.connectSources());
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, headers).end();
      return;
    }
    if (path === '/config.json') {
      response.writeHead(200, { ...headers, 'content-type': TYPES['.json']!, 'cache-control': 'no-store' }).end(JSON.stringify(this.options.config()));
      return;
    }
    const name = path === '/' ? 'index.html' : normalize(path).replace(/^([/\\])+/, '');
    const file = join(this.options.dist ?? CONSOLE_DIST, name);
    if (name.includes('..') || !TYPES[extname(name)] || !existsSync(file)) {
      response.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    response.writeHead(200, { ...headers, 'content-type': TYPES[extname(name)]!, 'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=31536000, immutable' }).end(readFileSync(file));
  }
}
