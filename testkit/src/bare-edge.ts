// A service's HTTP edge with no service behind it, for tests of the edge itself (API keys, JWTs,
// scopes, validation): the real createApiApp over an API contract, where every operation's
// handler answers 418 "reached". A 418 tells the test the edge let the request through.
import type { AddressInfo } from 'node:net';
import type { Authenticator } from '@ledgerline/platform/http/auth';
import { closeServer, createApiApp, listen, ProblemError } from '@ledgerline/platform/http/app';
import { createLogger } from '@ledgerline/platform/log';
import { createMetricsRegistry } from '@ledgerline/platform/metrics';
import type { ApiContract } from '@ledgerline/generated/openapi/contracts';

/** The status a bare edge's handlers answer with: the request got past the edge. */
export const REACHED = 418;

export interface BareEdge {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startBareEdge(options: {
  readonly contract: ApiContract;
  readonly authenticator: Authenticator;
  /** Names the edge's log. */
  readonly name: string;
  /** The interface to listen on; 127.0.0.1 unless the test needs another. */
  readonly host?: string;
  /** Called with the operationId of every request the edge lets through. */
  readonly onReached?: (operationId: string) => void;
}): Promise<BareEdge> {
  const { contract } = options;
  const handlers = Object.fromEntries(
    contract.operations.map((op) => [
      op.operationId,
      async () => {
        options.onReached?.(op.operationId);
        throw new ProblemError(REACHED, 'reached', 'Handler reached');
      },
    ]),
  );
  const app = createApiApp({
    service: contract.service,
    document: contract.document,
    operations: contract.operations,
    handlers,
    log: createLogger(options.name),
    metrics: createMetricsRegistry(contract.service),
    readiness: {},
    authenticator: options.authenticator,
  });
  const server = await listen(app, 0, options.host ?? '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => closeServer(server),
  };
}
