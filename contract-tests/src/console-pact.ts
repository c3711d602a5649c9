// What the console's pacts with the four services share: its clients pointed at Pact's mock
// server (console/web/lib/clients.ts, as its pages use them; in the browser the console server
// forwards /api/<service>/* to the service unchanged), and the operational endpoints its
// platform page reads from every service.
import { expect } from '@jest/globals';
import { platformClientsAt, type ServiceName } from '../../console/web/lib/clients.js';
import { ConsumerHttpPact, h, headers } from './http-consumer.js';
import { PACT_CREDENTIAL } from './states.js';

export function consoleClientsAt(baseUrl: string, credential = PACT_CREDENTIAL) {
  return platformClientsAt(() => baseUrl, credential);
}

/** The two operational endpoints as console/web/pages/platform.tsx reads them. */
interface Operational {
  GET(path: '/readyz'): Promise<{ data?: unknown; response: Response }>;
  GET(path: '/metrics', init: { parseAs: 'text' }): Promise<{ data?: unknown; response: Response }>;
}

/** The service's readiness (status, and each dependency check's status) and its metrics. */
export async function expectOperational(pact: ConsumerHttpPact, service: ServiceName) {
  const client = (baseUrl: string) => consoleClientsAt(baseUrl)[service] as unknown as Operational;
  const readiness = await pact.interact(
    {
      description: `the readiness of the ${service}`,
      request: { method: 'GET', path: '/readyz', headers: headers.authorized },
      response: {
        status: 200,
        headers: headers.json,
        body: {
          status: h.oneOf(['ready', 'degraded', 'not_ready'], 'ready'),
          checks: h.like({ postgres: { status: h.oneOf(['up', 'down'], 'up') } }),
        },
      },
    },
    async (baseUrl) => (await client(baseUrl).GET('/readyz')).data,
  );
  expect(readiness).toEqual({ status: 'ready', checks: { postgres: { status: 'up' } } });
  const metrics = await pact.interact(
    {
      description: `the metrics of the ${service}`,
      request: { method: 'GET', path: '/metrics', headers: headers.authorized },
      response: {
        status: 200,
        headers: { 'Content-Type': h.regex('^text/plain(;.*)?$', 'text/plain; version=0.0.4') },
      },
    },
    async (baseUrl) => (await client(baseUrl).GET('/metrics', { parseAs: 'text' })).response,
  );
  expect(metrics.status).toBe(200);
}
