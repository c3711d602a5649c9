// The README's Security section lists the scopes of every operation; it is generated from the
// contracts (scripts/scopes-table.ts), and this test fails when the two disagree, e.g. after an
// operation is added or a scope changed without `npx tsx scripts/scopes-table.ts`.
import { readFile } from 'node:fs/promises';
import {
  normalizedTable,
  operationScopes,
  README_PATH,
  scopesTable,
  tableInReadme,
} from '../scripts/scopes-table.js';

describe('README scopes table', () => {
  it('is exactly what the contracts declare, operation by operation', async () => {
    const readme = await readFile(README_PATH, 'utf8');
    expect(tableInReadme(readme)).toBe(normalizedTable(scopesTable()));
  });

  it('names a scope for every operation but the probes, the public signing key and the caller', () => {
    expect(
      operationScopes().filter(
        (o) => o.scopes.length === 0 && !/^\/(healthz|readyz)$/.test(o.path),
      ),
    ).toEqual([
      expect.objectContaining({
        service: 'audit',
        operationId: 'getCheckpointSigningKey',
        open: true,
      }),
      expect.objectContaining({ service: 'processor', operationId: 'getCaller', open: false }),
    ]);
  });

  it('detects a README that disagrees with the contracts', () => {
    const rows = operationScopes();
    const tampered = rows.map((r, i) =>
      i === 0 ? { ...r, open: false, scopes: ['payments:read'] } : r,
    );
    expect(normalizedTable(scopesTable(tampered))).not.toBe(normalizedTable(scopesTable(rows)));
  });
});
