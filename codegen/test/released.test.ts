// contracts:check compares every contract with its last released version, under the
// subject's mode for Avro and as breaking-change detection for OpenAPI.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadContracts } from '../src/generate.js';
import { checkAgainstReleased, releaseContracts } from '../src/released.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

async function withReleasedCopy(
  run: (contractsDir: string, releasedDir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-released-'));
  try {
    const contractsDir = path.join(dir, 'contracts');
    await cp(path.join(ROOT, 'contracts'), contractsDir, { recursive: true });
    const releasedDir = path.join(dir, 'released');
    await releaseContracts(await loadContracts(contractsDir), releasedDir);
    await run(contractsDir, releasedDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the working contracts are compatible with the committed released contracts', async () => {
  const contracts = await loadContracts(path.join(ROOT, 'contracts'));
  expect(await checkAgainstReleased(contracts, path.join(ROOT, 'contracts', 'released'))).toEqual(
    [],
  );
});

test('removing a field without a default from a FULL_TRANSITIVE event fails, naming the file and the field', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    const file = path.join(contractsDir, 'avro', 'PaymentStatusChanged.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as {
      fields: { name: string; default?: unknown }[];
    };
    const victim = schema.fields.find((f) => !('default' in f) && f.name !== 'eventId');
    expect(victim).toBeDefined();
    schema.fields = schema.fields.filter((f) => f !== victim);
    await writeFile(file, JSON.stringify(schema));
    const problems = await checkAgainstReleased(await loadContracts(contractsDir), releasedDir);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain('PaymentStatusChanged.avsc');
    expect(problems.join('\n')).toContain(victim!.name);
  });
});

test('a new optional field with a default is a compatible change', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    const file = path.join(contractsDir, 'avro', 'PaymentStatusChanged.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as {
      fields: Record<string, unknown>[];
    };
    schema.fields.push({ name: 'channel', type: ['null', 'string'], default: null, doc: 'New.' });
    await writeFile(file, JSON.stringify(schema));
    expect(await checkAgainstReleased(await loadContracts(contractsDir), releasedDir)).toEqual([]);
  });
});

test('removing an API operation is a breaking change that names the document and the path', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    const file = path.join(contractsDir, 'openapi', 'processor.yaml');
    const doc = parse(await readFile(file, 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    delete doc.paths['/v1/payments/{paymentId}'];
    await writeFile(file, stringify(doc));
    const problems = await checkAgainstReleased(await loadContracts(contractsDir), releasedDir);
    expect(problems.join('\n')).toMatch(/processor\.yaml.*\/v1\/payments\/\{paymentId\}/);
  });
});
