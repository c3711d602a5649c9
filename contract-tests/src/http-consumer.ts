// Consumer side of an HTTP pact: the consumer states the request it sends and the response
// fields it reads (Pact matchers), then its real code makes the call through the generated
// client against Pact's mock server and uses the answer as it does in production. Ids the
// provider creates (a payment, a run) come from the provider state (`h.fromState`), so the
// provider verifies against rows its own code wrote, not against ids the consumer made up.
import { MatchersV3, PactV3, type V3Request, type V3Response } from '@pact-foundation/pact';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import { PactDraft } from './files.js';
import { PACT_CREDENTIAL } from './states.js';

/** RFC 3339 with a zone, as every Ledgerline API writes instants (the console parses them). */
const INSTANT = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

/** Matchers for the JSON the APIs answer. */
export const h = {
  uuid: (example: string) => MatchersV3.uuid(example),
  instant: (example = '2026-03-01T09:30:00.000Z') => MatchersV3.regex(INSTANT, example),
  integer: (example: number) => MatchersV3.integer(example),
  string: (example: string) => MatchersV3.string(example),
  boolean: (example: boolean) => MatchersV3.boolean(example),
  regex: (pattern: string, example: string) => MatchersV3.regex(pattern, example),
  currency: (example = 'EUR') => MatchersV3.regex(/^[A-Z]{3}$/, example),
  /** A symbol of a closed list (an OpenAPI enum). */
  oneOf: (symbols: readonly string[], example: string) =>
    MatchersV3.regex(`^(${symbols.join('|')})$`, example),
  like: <T>(template: T) => MatchersV3.like(template),
  /** An array whose every element is like the template (at least `min` of them). */
  eachLike: <T>(template: T, min = 1) => MatchersV3.eachLike(template, min),
  /** A value the provider state returns (`${name}` in the expression), with an example. */
  fromState: <V>(expression: string, example: V) =>
    MatchersV3.fromProviderState(expression, example),
  /** `Authorization: Bearer <credential>`: any credential (the verifier sends a real one). */
  bearer: () => MatchersV3.regex('^Bearer \\S+$', `Bearer ${PACT_CREDENTIAL}`),
};

/** Headers the interactions state: the credential sent, the media type answered. */
export const headers = {
  authorized: { Authorization: h.bearer() },
  json: { 'Content-Type': h.regex('^application/json(;.*)?$', 'application/json') },
  problemJson: {
    'Content-Type': h.regex('^application/problem\\+json(;.*)?$', 'application/problem+json'),
  },
};

/** The symbols of an enum schema of a service's OpenAPI document (the console's types). */
export function apiEnum(service: string, schema: string): readonly string[] {
  const document = apiContracts.find((c) => c.service === service)?.document as
    { components?: { schemas?: Record<string, { enum?: unknown }> } } | undefined;
  const symbols = document?.components?.schemas?.[schema]?.enum;
  if (!Array.isArray(symbols) || symbols.some((s) => typeof s !== 'string')) {
    throw new Error(`${service}'s OpenAPI document has no string enum ${schema}`);
  }
  return symbols as string[];
}

export interface HttpExpectation {
  /** The provider state: which real situation the provider reproduces before the request. */
  readonly state?: string;
  /** Parameters of the state (Pact v3); the provider's handler receives them. */
  readonly params?: Record<string, string | number | boolean>;
  readonly description: string;
  readonly request: V3Request;
  readonly response: V3Response;
}

/** How long a request the mock server has answered may take to show in its results. */
const RECORD_WAIT_MS = 5_000;

/** What Pact's mock server reports (mismatches, and requests expected but not received). */
export type MockServerResults = (port: number) => readonly { type: string }[];

/** The results of the mock server a PactV3 runs (PactV3 keeps pact-core's handle as `pact`). */
export function mockServerResultsOf(pact: PactV3): MockServerResults {
  const handle = (pact as unknown as { pact?: { mockServerMismatches?: MockServerResults } }).pact;
  const results = handle?.mockServerMismatches?.bind(handle);
  if (results === undefined) {
    throw new Error('PactV3 no longer keeps its mock server handle as `pact`: see untilRecorded');
  }
  return results;
}

/**
 * Waits until Pact's mock server on `port` has recorded every request it expects, or `waitMs`.
 * pact_mock_server 2.2.1 (in pact-core 19.2, the last that runs on Node 20) answers a request
 * first and records it in a task of its own: under CPU pressure executeTest reads the results
 * before that task has run and fails with "The following request was expected but not
 * received" for a request it has answered. Fixed in pact_mock_server 2.2.4 (commit 819ac3d of
 * pact-foundation/pact-core-mock-server), which only pact-core 20 (Node 22) carries.
 */
export async function untilRecorded(
  results: MockServerResults,
  port: number,
  waitMs = RECORD_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (results(port).some((r) => r.type === 'missing-request') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One consumer-provider HTTP pact (see PactDraft for where it is written). */
export class ConsumerHttpPact {
  private readonly draft: PactDraft;

  constructor(
    readonly consumer: string,
    readonly provider: string,
  ) {
    this.draft = new PactDraft(consumer, provider);
  }

  /** Registers the interaction and runs `call` against the mock server's base URL. */
  async interact<R>(expectation: HttpExpectation, call: (baseUrl: string) => Promise<R>) {
    const pact = new PactV3({
      consumer: this.consumer,
      provider: this.provider,
      dir: this.draft.dir,
      logLevel: 'error',
    });
    if (expectation.state !== undefined) pact.given(expectation.state, expectation.params);
    let result: { value: R } | undefined;
    await this.draft.record(() =>
      pact
        .uponReceiving(expectation.description)
        .withRequest(expectation.request)
        .willRespondWith(expectation.response)
        .executeTest(async (server) => {
          result = { value: await call(server.url) };
          await untilRecorded(mockServerResultsOf(pact), server.port);
        }),
    );
    if (result === undefined) throw new Error(`${expectation.description}: the call did not run`);
    return result.value;
  }

  /** Moves the pact into pacts/ (see PactDraft); call it in afterAll. */
  publish(): void {
    this.draft.publish();
  }
}
