// generated/ is exactly what contracts/ produce: `npm run codegen:check` proves it in CI, and
// editing a contract without regenerating is caught.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate, loadContracts } from '../src/generate.js';
import { findDrift } from '../src/write.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

test('the committed generated/ matches the contracts', async () => {
  const files = await generate(await loadContracts(path.join(ROOT, 'contracts')));
  expect(await findDrift(path.join(ROOT, 'generated'), files)).toEqual({
    missing: [],
    changed: [],
    extra: [],
  });
});

test('editing a contract without regenerating is reported as drift, naming the files', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-contracts-'));
  try {
    await cp(path.join(ROOT, 'contracts'), dir, { recursive: true });
    const file = path.join(dir, 'avro', 'PaymentRequested.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as {
      fields: Record<string, unknown>[];
    };
    schema.fields.push({
      name: 'channel',
      type: ['null', 'string'],
      default: null,
      doc: 'New field.',
    });
    await writeFile(file, JSON.stringify(schema));
    const drift = await findDrift(
      path.join(ROOT, 'generated'),
      await generate(await loadContracts(dir)),
    );
    // topics.ts refers to the schema constants, so the change shows in types, schemas and the
    // contracts fingerprint.
    expect(drift.changed).toEqual(
      expect.arrayContaining(['src/avro/types.ts', 'src/avro/schemas.ts', 'CONTRACTS.sha256']),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('generation is deterministic and takes well under 2 s for the whole contracts folder', async () => {
  const started = performance.now();
  const first = await generate(await loadContracts(path.join(ROOT, 'contracts')));
  const elapsedMs = performance.now() - started;
  const second = await generate(await loadContracts(path.join(ROOT, 'contracts')));
  expect([...second.entries()]).toEqual([...first.entries()]);
  // Printed, not asserted as a timing: speed targets belong to benchmarks.
  process.stderr.write(`codegen wall time: ${Math.round(elapsedMs)} ms for ${first.size} files\n`);
});

test('an invalid contract names the file and the JSON pointer, and nothing is generated', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-contracts-'));
  try {
    await cp(path.join(ROOT, 'contracts'), dir, { recursive: true });
    const file = path.join(dir, 'avro', 'PaymentRequested.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as {
      fields: Record<string, unknown>[];
    };
    schema.fields[1] = { ...schema.fields[1], type: 'NoSuchType' };
    await writeFile(file, JSON.stringify(schema));
    await expect(loadContracts(dir)).rejects.toThrow(
      /PaymentRequested\.avsc.*(\/fields\/1|unknown type "?[\w.]*NoSuchType)/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
