// How batch statements bind their columns: node-postgres' own array serialisation (what
// slonik's sql.unnest hands it: JavaScript arrays) against the platform's array literal
// (platform/src/sql-array.ts), on a batch of 2,000 rows of five typical columns (uuid, bigint,
// json text, timestamptz, bytea). Prints microseconds per batch; compare within one run.
//   npx tsx platform/bench/array-binding.ts
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { arrayLiteral, type ArrayElement } from '../src/sql-array.js';

const require = createRequire(fileURLToPath(import.meta.url));
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

const ROWS = 2_000;
const ROUNDS = 300;
const columns: ArrayElement[][] = [
  Array.from({ length: ROWS }, () => randomUUID()),
  Array.from({ length: ROWS }, (_, i) => 1_000 + i),
  Array.from({ length: ROWS }, () => JSON.stringify({ id: randomUUID(), note: 'a "quoted" note' })),
  Array.from({ length: ROWS }, () => new Date()),
  Array.from({ length: ROWS }, () => Buffer.alloc(120, 7)),
];

function microsPerBatch(bind: (column: ArrayElement[]) => unknown): number {
  for (let i = 0; i < 50; i++) for (const column of columns) bind(column);
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) for (const column of columns) bind(column);
  return Number(process.hrtime.bigint() - started) / 1_000 / ROUNDS;
}

const driver = microsPerBatch((column) => prepareValue(column));
const literal = microsPerBatch((column) => arrayLiteral(column));
console.log(`${ROWS} rows x ${columns.length} columns, per batch:`);
console.log(`  node-postgres array serialisation (sql.unnest): ${driver.toFixed(0)} µs`);
console.log(`  platform array literal:                         ${literal.toFixed(0)} µs`);
console.log(`  ratio: ${(driver / literal).toFixed(2)}x`);
