// Verifies every pact that names reconciliation as provider: its messages against reconciliation's real
// event-building code, through Avro (writer schema -> consumer's reader schema), its HTTP
// interactions against its real service over the real stack. Records the result for the
// can-i-deploy gate (pacts/verifications/reconciliation.json). PACT_FROM_BROKER=1 verifies the broker's
// latest pacts instead (nothing recorded).
import { describe, expect, it } from '@jest/globals';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { brokerPactDir } from '../src/broker.js';
import { reconciliationProvider } from '../src/providers/reconciliation.js';
import { failures, verifyProvider } from '../src/verify.js';

describe("reconciliation honours its consumers' pacts", () => {
  it(
    'every interaction of every pact naming reconciliation is verified',
    async () => {
      const pactDir = await brokerPactDir('reconciliation');
      const verification = await verifyProvider(
        reconciliationProvider,
        pactDir === undefined ? { record: true } : { pactDir },
      );
      expect(failures(verification)).toEqual([]);
      expect(verification.pacts.flatMap((p) => p.interactions).length).toBeGreaterThan(0);
    },
    VERIFY_TIMEOUT_MS,
  );
});
