// pact:publish speaks the Pact Broker's HTTP API: checked against a stand-in broker that records
// what it is sent (the real one runs under `docker compose --profile pact`).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadPacts } from '../src/files.js';
import { publishPacts } from '../src/publish.js';

interface Received {
  method: string;
  url: string;
  body: Record<string, unknown>;
}

const received: Received[] = [];
let base = '';
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let text = '';
  req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  req.on('end', () => {
    received.push({
      method: req.method ?? '',
      url: req.url ?? '',
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    });
    res.setHeader('content-type', 'application/hal+json');
    const isPact = req.method === 'PUT' && req.url?.startsWith('/pacts/');
    res.end(
      JSON.stringify(
        isPact
          ? { _links: { 'pb:publish-verification-results': { href: `${base}/results${req.url}` } } }
          : {},
      ),
    );
  });
});

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env['PACT_BROKER_BASE_URL'] = base;
});
afterAll(() => {
  delete process.env['PACT_BROKER_BASE_URL'];
  server.close();
});

describe('pact:publish', () => {
  it('publishes every pact under the version, its results and the branch of each pacticipant', async () => {
    await publishPacts({ version: 'abc123', branch: 'main' });
    const pacts = loadPacts();
    const puts = received.filter((r) => r.method === 'PUT' && r.url.startsWith('/pacts/'));
    expect(puts.map((r) => r.url).sort()).toEqual(
      pacts
        .map(
          ({ pact }) =>
            `/pacts/provider/${pact.provider.name}/consumer/${pact.consumer.name}/version/abc123`,
        )
        .sort(),
    );
    // Message pacts and the console's HTTP pacts alike, as written.
    for (const put of puts) expect(put.body['messages'] ?? put.body['interactions']).toBeDefined();
    expect(puts.filter((r) => r.body['interactions'] !== undefined).map((r) => r.url)).toContain(
      '/pacts/provider/processor/consumer/console/version/abc123',
    );
    const results = received.filter((r) => r.method === 'POST');
    for (const result of results) {
      expect(result.url).toMatch(/^\/results\/pacts\//);
      expect(result.body).toMatchObject({ providerApplicationVersion: 'abc123' });
    }
    const branches = received.filter((r) => r.url.startsWith('/pacticipants/'));
    expect(branches.map((r) => r.url)).toContain(
      '/pacticipants/audit/branches/main/versions/abc123',
    );
  });
});
