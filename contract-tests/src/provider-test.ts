// The one test every provider's test file runs (contract-tests/test/<provider>.provider.test.ts,
// a file each so Jest verifies providers side by side): every pact naming the provider is
// verified (messages against its real event-building code through Avro, HTTP interactions
// against its real service over the real stack) and the result recorded for the can-i-deploy
// gate in pacts/verifications/<provider>.json. PACT_FROM_BROKER=1 verifies the broker's latest
// pacts instead, and records nothing.
import { describe, expect, it } from '@jest/globals';
import { brokerPactDir } from './broker.js';
import { VERIFY_TIMEOUT_MS } from './http-verify.js';
import { failures, verifyProvider, type ProviderDefinition } from './verify.js';

export function verifiesItsConsumers(provider: ProviderDefinition): void {
  describe(`${provider.name} honours its consumers' pacts`, () => {
    it(
      `every interaction of every pact naming ${provider.name} is verified`,
      async () => {
        const pactDir = await brokerPactDir(provider.name);
        const verification = await verifyProvider(
          provider,
          pactDir === undefined ? { record: true } : { pactDir },
        );
        expect(failures(verification)).toEqual([]);
        expect(verification.pacts.flatMap((p) => p.interactions).length).toBeGreaterThan(0);
      },
      VERIFY_TIMEOUT_MS,
    );
  });
}
