// Verifies every pact that names ledger as provider: its messages against ledger's real
// event-building code, through Avro (writer schema -> consumer's reader schema), its HTTP
// interactions against its real service over the real stack. Records the result for the
// can-i-deploy gate (pacts/verifications/ledger.json). PACT_FROM_BROKER=1 verifies the broker's
// latest pacts instead (nothing recorded).
import { describe, expect, it } from '@jest/globals';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { brokerPactDir } from '../src/broker.js';
import { ledgerProvider } from '../src/providers/ledger.js';
import { failures, verifyProvider } from '../src/verify.js';

describe("ledger honours its consumers' pacts", () => {
  it(
    'every interaction of every pact naming ledger is verified',
    async () => {
      const pactDir = await brokerPactDir('ledger');
      const verification = await verifyProvider(
        ledgerProvider,
        pactDir === undefined ? { record: true } : { pactDir },
      );
      expect(failures(verification)).toEqual([]);
      expect(verification.pacts.flatMap((p) => p.interactions).length).toBeGreaterThan(0);
    },
    VERIFY_TIMEOUT_MS,
  );
});
