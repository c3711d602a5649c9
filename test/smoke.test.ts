import { PactV3, MatchersV3 } from '@pact-foundation/pact';

test('pact loads under jest ESM', () => {
  expect(typeof PactV3).toBe('function');
  expect(MatchersV3.integer(1)).toBeTruthy();
});
