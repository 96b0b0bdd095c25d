import type { IncomingHttpHeaders } from 'node:http';

/**
 * The HTTP API's CORS, as API Gateway applies an API's CorsConfiguration (developer guide, "Configure CORS
 * for HTTP APIs"): it answers preflight OPTIONS requests itself, even without an OPTIONS route, and adds
 * the configured headers to the integration's answer of a CORS request (one with an `origin` header); the
 * integration's own CORS headers are ignored. A preflight needs `origin` and `access-control-request-method`.
 */

export interface CorsConfiguration {
  AllowOrigins: string[];
  AllowHeaders?: string[];
  AllowMethods?: string[];
  ExposeHeaders?: string[];
  MaxAge?: number;
  AllowCredentials?: boolean;
}

const originAllowed = (cors: CorsConfiguration, origin: string) => cors.AllowOrigins.includes('*') || cors.AllowOrigins.includes(origin);

/** The headers a CORS request's answer gets (none for a request without an allowed origin). */
export function corsHeaders(cors: CorsConfiguration | undefined, headers: IncomingHttpHeaders): Record<string, string> {
  const origin = headers.origin;
  if (!cors || !origin || !originAllowed(cors, origin)) return {};
  return {
    'access-control-allow-origin': cors.AllowOrigins.includes('*') && !cors.AllowCredentials ? '*' : origin,
    vary: 'origin',
    ...(cors.ExposeHeaders?.length ? { 'access-control-expose-headers': cors.ExposeHeaders.join(',') } : {}),
    ...(cors.AllowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/**
 * The answer to a preflight, or undefined when the request is not one (no CORS configured, not OPTIONS, or
 * lacking origin / access-control-request-method): then it is routed like any other request.
 */
export function preflightAnswer(cors: CorsConfiguration | undefined, method: string, headers: IncomingHttpHeaders): { status: number; headers: Record<string, string> } | undefined {
  const requested = headers['access-control-request-method'];
  if (!cors || method !== 'OPTIONS' || !headers.origin || typeof requested !== 'string') return undefined;
  const allowed = corsHeaders(cors, headers);
  const methods = (cors.AllowMethods ?? []).map((m) => m.toUpperCase());
  const methodAllowed = methods.includes('*') || methods.includes(requested.toUpperCase());
  const asked = String(headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const allowedHeaders = (cors.AllowHeaders ?? []).map((h) => h.toLowerCase());
  const headersAllowed = allowedHeaders.includes('*') || asked.every((h) => allowedHeaders.includes(h));
  // A preflight that is not allowed gets no CORS headers: the browser then refuses the request.
  if (!allowed['access-control-allow-origin'] || !methodAllowed || !headersAllowed) return { status: 204, headers: {} };
  return {
    status: 204,
    headers: {
      ...allowed,
      'access-control-allow-methods': methods.join(','),
      'access-control-allow-headers': allowedHeaders.join(','),
      ...(cors.MaxAge !== undefined ? { 'access-control-max-age': String(cors.MaxAge) } : {}),
    },
  };
}
