// The can-i-deploy gate of `npm test`: every pair that contracts/topics.yaml (or a generated
// client call) connects has pacts, and every interaction of every pact is verified by its
// provider at this commit. A recorded verification whose pact or provider code changed is
// re-run first, so the gate answers for the working tree, whatever order Jest runs files in.
import { describe, expect, it } from '@jest/globals';
import { VERIFY_TIMEOUT_MS } from '../src/http-verify.js';
import { computeMatrix, formatMatrix, refreshStale } from '../src/matrix.js';
import { providers } from '../src/providers/index.js';

describe('can-i-deploy', () => {
  it(
    'every declared consumer-provider pair has pacts, all verified at this commit',
    async () => {
      let matrix = await computeMatrix();
      // Twice at most: a provider test running in parallel may record against a pact that a
      // consumer test rewrote meanwhile.
      for (let round = 0; round < 2 && matrix.staleProviders.length > 0; round++) {
        await refreshStale(matrix, providers);
        matrix = await computeMatrix();
      }
      if (matrix.gaps.length > 0) {
        throw new Error(
          `${matrix.gaps.length} pact gap(s):\n${matrix.gaps.map((g) => `  - ${g}`).join('\n')}` +
            `\n\n${formatMatrix(matrix)}`,
        );
      }
      expect(
        matrix.rows.filter((r) => r.kind === 'message').every((r) => r.verified === 'yes'),
      ).toBe(true);
    },
    VERIFY_TIMEOUT_MS,
  );
});
