// What the HTTP edge answers when a handler fails because a dependency is away: a 503 problem a
// client may retry with the same Idempotency-Key, never a 500; a bug stays a 500. Pure rules;
// the outage itself is e2e/test/postgres-outage.e2e.test.ts.
import { dependencyUnavailable, ProblemError } from '../src/http/problem.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test.each([
  [
    'PostgreSQL refusing connections',
    withCode('connect ECONNREFUSED 127.0.0.1:15432', 'ECONNREFUSED'),
  ],
  [
    'PostgreSQL shutting down (57P01)',
    withCode('terminating connection due to administrator command', '57P01'),
  ],
  ['the pool waiting past its bound', new Error('timeout exceeded when trying to connect')],
  ['a serialization failure (40001)', withCode('could not serialize access', '40001')],
])('%s answers 503 dependency-unavailable with a retry hint', (_what, error) => {
  const problem = dependencyUnavailable(error);
  expect(problem?.problem).toMatchObject({
    status: 503,
    type: 'https://ledgerline.dev/problems/dependency-unavailable',
    retryAfterSeconds: expect.any(Number),
  });
});

test.each([
  ['a bug in a handler', new TypeError("Cannot read properties of undefined (reading 'id')")],
  ['a data exception (22P02)', withCode('invalid input syntax for type uuid', '22P02')],
  ['a problem the handler chose', new ProblemError(409, 'conflict', 'Conflict')],
])('%s is not turned into a 503', (_what, error) => {
  expect(dependencyUnavailable(error)).toBeUndefined();
});
