// The matrix finds what no pact covers: a consumer that calls an operation through a generated
// client (the console's pages) without an interaction for it is a gap naming the call.
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { computeMatrix, expectedHttp } from '../src/matrix.js';
import { PACT_DIR, type PactFile } from '../src/files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ledgerline-matrix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the pact matrix', () => {
  it("finds the console's calls of every service through the generated clients", () => {
    const fromConsole = expectedHttp().filter((e) => e.consumer === 'console');
    expect(fromConsole.map((e) => e.provider).sort()).toEqual([
      'audit',
      'ledger',
      'processor',
      'reconciliation',
    ]);
    const ledger = fromConsole.find((e) => e.provider === 'ledger');
    expect(ledger?.calls.map((c) => `${c.method} ${c.path}`)).toContain(
      'POST /v1/accounts/{accountId}/status',
    );
    expect(ledger?.calls[0]?.use).toMatch(/^console\/web\/pages\/accounts\.tsx:\d+$/);
  });

  it('names a called operation the pact has no interaction for', async () => {
    for (const file of readdirSync(PACT_DIR).filter((f) => f.endsWith('.json'))) {
      copyFileSync(path.join(PACT_DIR, file), path.join(dir, file));
    }
    const file = path.join(dir, 'console-ledger.json');
    const pact = JSON.parse(readFileSync(file, 'utf8')) as PactFile;
    pact.interactions = (pact.interactions ?? []).filter(
      (i) => !(i.request.method === 'POST' && i.request.path.endsWith('/status')),
    );
    writeFileSync(file, JSON.stringify(pact));
    const matrix = await computeMatrix({ pactDir: dir });
    expect(matrix.gaps).toContainEqual(
      expect.stringMatching(
        /^console <- ledger: console calls POST \/v1\/accounts\/\{accountId\}\/status \(console\/web\/pages\/accounts\.tsx:\d+\) but its pact has no interaction for changeAccountStatus$/,
      ),
    );
    // The committed pacts cover every call.
    const committed = await computeMatrix();
    expect(committed.gaps.filter((g) => g.includes('has no interaction for'))).toEqual([]);
  });
});
