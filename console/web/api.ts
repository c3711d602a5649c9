// The console's clients: the platform's generated typed HTTP clients, pointed at the console's
// forwarding paths (one origin for the browser; the services' edges decide every request), and
// the console server's own catalogue endpoints.
import { platformClientsAt, type PlatformClients } from './lib/clients.js';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { problemLine } from './lib/problem.js';

export { problemLine, type PlatformClients };

export type Caller = components['schemas']['Caller'];

/** openapi-fetch builds a Request from baseUrl + path: it needs an absolute URL. */
export function platformClients(credential: string): PlatformClients {
  return platformClientsAt((service) => `${window.location.origin}/api/${service}`, credential);
}

export interface Session {
  credential: string;
  caller: Caller;
  api: PlatformClients;
  /** Does the credential grant this scope? (The edge still decides; this only hides buttons.) */
  may(scope: string): boolean;
}

export function session(credential: string, caller: Caller): Session {
  return {
    credential,
    caller,
    api: platformClients(credential),
    may: (scope) => caller.scopes.includes(scope),
  };
}

/** GET or POST on the console server's own endpoints, with the credential. */
export async function consoleCall<T>(
  credential: string,
  path: string,
  body?: unknown,
): Promise<{ ok: true; data: T } | { ok: false; message: string }> {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${credential}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  return response.ok
    ? { ok: true, data: parsed as T }
    : { ok: false, message: problemLine(parsed, response.status) };
}
