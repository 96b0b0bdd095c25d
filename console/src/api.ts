import type { ConsoleConfig } from './config';
import type { Session } from './auth';

/** The console's HTTP API, with the signed-in user's ID token (the API checks the groups, not the page). */

export interface Issue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  post<T>(path: string, body: unknown, contentType?: string): Promise<T>;
}

export function apiFor(config: ConsoleConfig, session: Session, onUnauthorized: () => void): Api {
  const call = async <T,>(method: string, path: string, query: Record<string, string | undefined> = {}, body?: string, contentType = 'application/json'): Promise<T> => {
    const url = new URL(`${config.apiUrl}${path}`);
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') url.searchParams.set(key, value);
    const response = await fetch(url.href, {
      method,
      headers: { authorization: `Bearer ${session.idToken}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (response.status === 401) onUnauthorized();
    if (!response.ok) {
      throw new ApiError(response.status, typeof json.message === 'string' ? json.message : `HTTP ${response.status}`, typeof json.reason === 'string' ? json.reason : undefined, json.issues as Issue[] | undefined);
    }
    return json as T;
  };
  return {
    get: (path, query) => call('GET', path, query),
    post: (path, body, contentType) => call('POST', path, {}, typeof body === 'string' ? body : JSON.stringify(body ?? {}), contentType),
  };
}
