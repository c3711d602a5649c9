// The consumer tests wait until Pact's mock server has recorded the requests it answered before
// Pact reads its results (http-consumer.ts, untilRecorded): against a real mock server, that wait
// reads this server's results, ends once the request is recorded, and gives up after its bound
// when the request never comes, so that Pact still reports it missing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { PactV3 } from '@pact-foundation/pact';
import { mockServerResultsOf, untilRecorded } from '../src/http-consumer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ledgerline-mock-server-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectingPing(): PactV3 {
  return new PactV3({ consumer: 'probe', provider: 'pinged', dir, logLevel: 'error' })
    .uponReceiving('a ping')
    .withRequest({ method: 'GET', path: '/ping' })
    .willRespondWith({ status: 204 });
}

describe('waiting for the mock server to record what it answered', () => {
  it('reads the missing request before the call and nothing missing once it is answered', async () => {
    const pact = expectingPing();
    await pact.executeTest(async (server) => {
      const results = mockServerResultsOf(pact);
      expect(results(server.port)).toEqual([expect.objectContaining({ type: 'missing-request' })]);
      const response = await fetch(`${server.url}/ping`);
      expect(response.status).toBe(204);
      await untilRecorded(results, server.port, 5_000);
      expect(results(server.port)).toEqual([]);
    });
  });

  it('gives up after its bound when the request never comes, and Pact reports it missing', async () => {
    const pact = expectingPing();
    let waitedMs = 0;
    await expect(
      pact.executeTest(async (server) => {
        const started = performance.now();
        await untilRecorded(mockServerResultsOf(pact), server.port, 300);
        waitedMs = performance.now() - started;
      }),
    ).rejects.toThrow(/expected but not received/);
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(5_000);
  });
});
