// Verifies every pact that names audit as provider (the console's HTTP pact) against audit's
// real service over the real stack, and records the result for the can-i-deploy gate
// (pacts/verifications/audit.json). PACT_FROM_BROKER=1 verifies the broker's latest pacts
// instead (nothing recorded).
import { describe, expect, it } from '@jest/globals';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { brokerPactDir } from '../src/broker.js';
import { auditProvider } from '../src/providers/audit.js';
import { failures, verifyProvider } from '../src/verify.js';

describe("audit honours its consumers' pacts", () => {
  it(
    'every interaction of every pact naming audit is verified',
    async () => {
      const pactDir = await brokerPactDir('audit');
      const verification = await verifyProvider(
        auditProvider,
        pactDir === undefined ? { record: true } : { pactDir },
      );
      expect(failures(verification)).toEqual([]);
      expect(verification.pacts.flatMap((p) => p.interactions).length).toBeGreaterThan(0);
    },
    VERIFY_TIMEOUT_MS,
  );
});
