// The README's scopes table, generated from the contracts so it cannot drift from what the edge
// enforces: one row per operation of every service, with the scopes its `security` declares.
// `npx tsx scripts/scopes-table.ts` rewrites the table between the markers in README.md;
// test/readme-scopes.test.ts fails when the README and the contracts disagree.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import { isOpen, operationSecurity, scopesOf } from '@ledgerline/platform/http/auth';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));
export const TABLE_START = '<!-- scopes-table:start (npx tsx scripts/scopes-table.ts) -->';
export const TABLE_END = '<!-- scopes-table:end -->';

export interface OperationScopes {
  service: string;
  operationId: string;
  method: string;
  path: string;
  /** No credential needed. */
  open: boolean;
  /** Empty for an open operation, and for one any valid credential may call. */
  scopes: readonly string[];
}

/** Every operation of every contract with the scopes it needs, in contract order. */
export function operationScopes(): OperationScopes[] {
  return apiContracts.flatMap(({ service, document, operations }) =>
    operations.map((operation) => {
      const requirements = operationSecurity(document, operation);
      return {
        service,
        operationId: operation.operationId,
        method: operation.method.toUpperCase(),
        path: operation.path,
        open: isOpen(requirements),
        scopes: isOpen(requirements) ? [] : scopesOf(requirements),
      };
    }),
  );
}

/** The markdown table, without the markers. */
export function scopesTable(rows: readonly OperationScopes[] = operationScopes()): string {
  const lines = [
    '| Service | Operation | Request | Scopes |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.service} | \`${r.operationId}\` | \`${r.method} ${r.path}\` | ${
          r.open
            ? 'none (open)'
            : r.scopes.length === 0
              ? 'any valid credential'
              : r.scopes.map((s) => `\`${s}\``).join(' ')
        } |`,
    ),
  ];
  return lines.join('\n');
}

/**
 * A markdown table reduced to its cells, so Prettier's column alignment of the README (padding,
 * longer separator dashes) does not count as a difference.
 */
export function normalizedTable(table: string): string {
  return table
    .trim()
    .split('\n')
    .map((line) =>
      line
        .trim()
        .split('|')
        .map((cell) => cell.trim())
        .map((cell) => (/^-+$/.test(cell) ? '---' : cell))
        .join('|'),
    )
    .join('\n');
}

/** The table currently between the markers of a README text, normalized; undefined without. */
export function tableInReadme(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return normalizedTable(readme.slice(start + TABLE_START.length, end));
}

async function main(): Promise<void> {
  const readme = await readFile(README_PATH, 'utf8');
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${TABLE_START} ... ${TABLE_END}`);
  const next = `${readme.slice(0, start + TABLE_START.length)}\n\n${scopesTable()}\n\n${readme.slice(end)}`;
  await writeFile(README_PATH, next);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
