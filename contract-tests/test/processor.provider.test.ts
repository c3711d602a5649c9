// Verifies every pact that names processor as provider: its messages against processor's real
// event-building code, through Avro (writer schema -> consumer's reader schema), its HTTP
// interactions against its real service over the real stack. Records the result for the
// can-i-deploy gate (pacts/verifications/processor.json). PACT_FROM_BROKER=1 verifies the broker's
// latest pacts instead (nothing recorded).
import { describe, expect, it } from '@jest/globals';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { brokerPactDir } from '../src/broker.js';
import { processorProvider } from '../src/providers/processor.js';
import { failures, verifyProvider } from '../src/verify.js';

describe("processor honours its consumers' pacts", () => {
  it(
    'every interaction of every pact naming processor is verified',
    async () => {
      const pactDir = await brokerPactDir('processor');
      const verification = await verifyProvider(
        processorProvider,
        pactDir === undefined ? { record: true } : { pactDir },
      );
      expect(failures(verification)).toEqual([]);
      expect(verification.pacts.flatMap((p) => p.interactions).length).toBeGreaterThan(0);
    },
    VERIFY_TIMEOUT_MS,
  );
});
