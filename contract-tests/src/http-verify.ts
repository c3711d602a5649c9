// Provider side of the HTTP pacts: the provider's real service answers every interaction. The
// platform's four services run in process over the real stack (http-world.ts); before each
// interaction the provider's handler for its state makes the situation through the platform's
// own APIs and returns the ids the interaction injects (`${paymentId}`); Pact's verifier then
// sends the request to the real service and compares the answer with the pact. The pacts carry
// a placeholder credential, replaced here by a real key with every scope; any other credential
// (an unknown key a refusal interaction sends) reaches the service as it is.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { Verifier } from '@pact-foundation/pact';
import type { LoadedPact, PactHttpInteraction } from './files.js';
import { startHttpWorld, type HttpWorld } from './http-world.js';
import { PACT_CREDENTIAL } from './states.js';
import { problemsOfInteraction, parseVerifierJson, type VerifierJson } from './verifier-json.js';

/**
 * How long a test that verifies HTTP pacts may take: it starts the four services and makes each
 * provider state through their sagas, seconds on an idle machine, more beside other suites.
 */
export const VERIFY_TIMEOUT_MS = 300_000;

/** Values an interaction injects from its provider state (`${name}` in the pact). */
export type StateValues = Record<string, string | number | boolean>;

export type HttpStateHandler = (
  world: HttpWorld,
  params: Readonly<Record<string, unknown>>,
) => Promise<StateValues>;

export interface HttpProviderDefinition {
  /** Which of the platform's services answers (its URL in the world). */
  readonly service: 'processor' | 'ledger' | 'reconciliation' | 'audit';
  /** Provider state -> how the provider reproduces it. */
  readonly states: Readonly<Record<string, HttpStateHandler>>;
}

export interface HttpInteractionResult {
  readonly description: string;
  readonly state: string;
  readonly request: string;
  readonly problems: string[];
}

/** Changes a JSON answer of the service before the verifier sees it (breakage tests). */
export type ResponseChange = (request: string, body: unknown) => unknown;

/**
 * A proxy in front of the service that passes every request on and applies `change` to each
 * JSON answer: "the provider changed its answer", without touching services/.
 */
async function changingProxy(target: string, change: ResponseChange): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        // A connection per request: none kept alive to a service that a later test's world may
        // replace on the same port.
        agent: false,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          let body = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          if (/json/.test(String(headers['content-type'] ?? '')) && body.length > 0) {
            let parsed: unknown;
            try {
              parsed = JSON.parse(body.toString('utf8'));
            } catch {
              parsed = undefined; // not JSON after all: passed on as it is
            }
            if (parsed !== undefined) {
              body = Buffer.from(JSON.stringify(change(`${req.method} ${req.url}`, parsed)));
              headers['content-length'] = String(body.length);
            }
          }
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    // The verifier then reports the proxy's own failure, naming it, not a changed answer.
    forward.on('error', (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`the breakage proxy could not reach ${target}: ${error.message}`);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Verifies the HTTP interactions of one pact against the provider's running service. */
export async function verifyHttpInteractions(
  definition: HttpProviderDefinition,
  loaded: LoadedPact,
  changeResponse?: ResponseChange,
): Promise<HttpInteractionResult[]> {
  const interactions = loaded.pact.interactions ?? [];
  if (interactions.length === 0) return [];
  const stateProblems = new Map<string, string[]>();
  const noteState = (state: string, text: string) =>
    stateProblems.set(state, [...(stateProblems.get(state) ?? []), text]);

  let json: VerifierJson | undefined;
  let crash: string | undefined;
  const world = await startHttpWorld(`pact-${definition.service}`);
  let proxy: Server | undefined;
  try {
    const serviceUrl = world.platform.urls[definition.service];
    if (serviceUrl === undefined) throw new Error(`the world runs no ${definition.service}`);
    if (changeResponse !== undefined) proxy = await changingProxy(serviceUrl, changeResponse);
    const url =
      proxy === undefined
        ? serviceUrl
        : `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const stateNames = new Set(
      interactions.flatMap((i) => (i.providerStates ?? []).map((s) => s.name)),
    );
    const stateHandlers = Object.fromEntries(
      [...stateNames].map((state) => [
        state,
        // The set-up: the verifier calls it with the interaction's state parameters.
        async (params?: unknown): Promise<StateValues> => {
          const handler = definition.states[state];
          if (handler === undefined) {
            noteState(state, `${definition.service} has no handler for state "${state}"`);
            return {};
          }
          try {
            const given = typeof params === 'object' && params !== null ? params : {};
            return await handler(world, given as Record<string, unknown>);
          } catch (error) {
            noteState(state, `setting up "${state}" failed: ${(error as Error).message}`);
            return {};
          }
        },
      ]),
    );
    const realCredential = `Bearer ${world.platform.operatorKey}`;
    const requestFilter = (req: Request, _res: Response, next: NextFunction) => {
      if (req.headers.authorization === `Bearer ${PACT_CREDENTIAL}`) {
        req.headers.authorization = realCredential;
      }
      next();
    };
    try {
      const out = await new Verifier({
        provider: definition.service,
        providerBaseUrl: url,
        pactUrls: [loaded.file],
        stateHandlers,
        requestFilter,
        logLevel: 'error',
        // Each request to the provider, the state set-ups included: a completed payment (its
        // saga, then its audit trail) can take over the default 30 s on a busy 2-core machine
        // right after the stack started, and a set-up cut short fails every interaction after.
        timeout: 120_000,
      }).verifyProvider();
      json = parseVerifierJson(String(out));
    } catch (error) {
      json = parseVerifierJson((error as Error).message);
      if (json === undefined) crash = (error as Error).message;
    }
  } finally {
    proxy?.close();
    await world.stop();
  }

  return interactions.map((interaction) => {
    const stated = stateProblems.get(stateOf(interaction));
    return resultOf(
      interaction,
      stated ?? problemsOfInteraction(json, interaction.description, crash),
    );
  });
}

function stateOf(interaction: PactHttpInteraction): string {
  return interaction.providerStates?.[0]?.name ?? '';
}

/** An interaction's result as the verification record keeps it. */
export function resultOf(
  interaction: PactHttpInteraction,
  problems: string[],
): HttpInteractionResult {
  return {
    description: interaction.description,
    state: stateOf(interaction),
    request: `${interaction.request.method} ${interaction.request.path}`,
    problems,
  };
}
