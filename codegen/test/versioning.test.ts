// The released contracts' version (the SDK packages' version) and CHANGELOG: a release that
// adds fields, operations or enum values is a minor version with an entry naming each; one
// that only rewords descriptions is a patch; releasing nothing new changes neither.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadContracts } from '../src/generate.js';
import { contractsVersion, releaseContracts } from '../src/released.js';
import {
  avroChanges,
  bumpFor,
  changelogEntry,
  nextVersion,
  openapiChanges,
  prependEntry,
} from '../src/versioning.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

async function withReleasedCopy(
  run: (contractsDir: string, releasedDir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-versioning-'));
  try {
    const contractsDir = path.join(dir, 'contracts');
    await cp(path.join(ROOT, 'contracts'), contractsDir, { recursive: true });
    const releasedDir = path.join(contractsDir, 'released');
    await run(contractsDir, releasedDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Adds an optional `merchantRef` to the processor API's Payment, as a new feature would. */
async function addPaymentMerchantRef(contractsDir: string): Promise<void> {
  const yamlFile = path.join(contractsDir, 'openapi', 'processor.yaml');
  const doc = parse(await readFile(yamlFile, 'utf8')) as {
    components: { schemas: Record<string, { properties: Record<string, unknown> }> };
  };
  doc.components.schemas.Payment!.properties.merchantRef = {
    type: ['string', 'null'],
    description: 'Merchant reference.',
  };
  await writeFile(yamlFile, stringify(doc));
}

test('a release that adds an event field and an API field is a minor version with a CHANGELOG entry naming both', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    await writeFile(path.join(releasedDir, 'VERSION'), '1.4.2\n');
    const avsc = path.join(contractsDir, 'avro', 'PaymentStatusChanged.avsc');
    const schema = JSON.parse(await readFile(avsc, 'utf8')) as { fields: unknown[] };
    schema.fields.push({
      name: 'merchantRef',
      type: ['null', 'string'],
      default: null,
      doc: 'Merchant reference.',
    });
    await writeFile(avsc, JSON.stringify(schema, null, 2));
    await addPaymentMerchantRef(contractsDir);

    const recorded = await releaseContracts(await loadContracts(contractsDir), releasedDir);

    expect(recorded).toContain('version 1.5.0');
    expect((await readFile(path.join(releasedDir, 'VERSION'), 'utf8')).trim()).toBe('1.5.0');
    const changelog = await readFile(path.join(releasedDir, 'CHANGELOG.md'), 'utf8');
    const entry = changelog.slice(changelog.indexOf('## 1.5.0'), changelog.indexOf('## 1.0.0'));
    expect(entry).toContain(
      'event field payments.status-changed-value: ledgerline.payments.v1.PaymentStatusChanged.merchantRef',
    );
    expect(entry).toContain('field processor: Payment.merchantRef');
    // Newest on top, older entries kept.
    expect(changelog.indexOf('## 1.5.0')).toBeLessThan(changelog.indexOf('## 1.0.0'));

    // Releasing the same contracts again changes nothing.
    expect(await releaseContracts(await loadContracts(contractsDir), releasedDir)).toEqual([]);
    expect((await readFile(path.join(releasedDir, 'VERSION'), 'utf8')).trim()).toBe('1.5.0');
  });
});

test('packages built from contracts ahead of the release carry the next version, marked unreleased', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    await writeFile(path.join(releasedDir, 'VERSION'), '1.4.2\n');
    // The released contracts as they are: the released version.
    expect(await contractsVersion(await loadContracts(contractsDir), releasedDir)).toEqual({
      version: '1.4.2',
      unreleased: [],
    });
    await addPaymentMerchantRef(contractsDir);
    const contracts = await loadContracts(contractsDir);

    // A field no release has: 1.4.2 would claim it, 1.5.0 does not exist yet.
    expect(await contractsVersion(contracts, releasedDir)).toEqual({
      version: '1.5.0-unreleased',
      unreleased: ['openapi/processor'],
    });
    // Asking writes nothing.
    expect((await readFile(path.join(releasedDir, 'VERSION'), 'utf8')).trim()).toBe('1.4.2');

    await releaseContracts(contracts, releasedDir);
    expect(await contractsVersion(contracts, releasedDir)).toEqual({
      version: '1.5.0',
      unreleased: [],
    });
  });
});

test('a breaking event change is refused by the release step and the version stays', async () => {
  await withReleasedCopy(async (contractsDir, releasedDir) => {
    const avsc = path.join(contractsDir, 'avro', 'PaymentStatusChanged.avsc');
    const schema = JSON.parse(await readFile(avsc, 'utf8')) as {
      fields: { name: string; type: unknown }[];
    };
    const amount = schema.fields.find((f) => f.name === 'amountMinor')!;
    amount.type = 'string';
    await writeFile(avsc, JSON.stringify(schema, null, 2));
    const versionBefore = await readFile(path.join(releasedDir, 'VERSION'), 'utf8');

    await expect(releaseContracts(await loadContracts(contractsDir), releasedDir)).rejects.toThrow(
      /refusing to release incompatible contracts[\s\S]*amountMinor/,
    );
    expect(await readFile(path.join(releasedDir, 'VERSION'), 'utf8')).toBe(versionBefore);
  });
});

test('added operations, enum values and deprecations are named; a reworded description is a patch', () => {
  const before = {
    paths: { '/v1/a': { get: { operationId: 'getA' } } },
    components: { schemas: { Kind: { enum: ['X'] }, A: { properties: { f: {} } } } },
  };
  const after = {
    paths: {
      '/v1/a': { get: { operationId: 'getA', deprecated: true } },
      '/v1/b': { post: { operationId: 'createB' } },
    },
    components: {
      schemas: { Kind: { enum: ['X', 'Y'] }, A: { properties: { f: { deprecated: true } } } },
    },
  };
  const changes = openapiChanges('svc', before, after);
  expect(changes.added).toEqual(['operation svc: createB (POST /v1/b)', 'enum value svc: Kind.Y']);
  expect(changes.deprecated).toEqual(['operation svc: getA (GET /v1/a)', 'field svc: A.f']);
  expect(bumpFor(changes)).toBe('minor');

  const reworded = openapiChanges('svc', before, { ...before, info: { description: 'new' } });
  expect(reworded.added).toEqual([]);
  expect(bumpFor(reworded)).toBe('patch');
  expect(nextVersion('2.3.4', 'patch')).toBe('2.3.5');
  expect(nextVersion('2.3.4', 'minor')).toBe('2.4.0');
  expect(bumpFor(openapiChanges('svc', before, before))).toBe('none');
});

test('an Avro enum symbol added deep in a record is named with its full name', () => {
  const status = { type: 'enum', name: 'Status', namespace: 'n', symbols: ['A'] };
  const before = {
    type: 'record',
    name: 'E',
    namespace: 'n',
    fields: [{ name: 's', type: status }],
  };
  const after = {
    ...before,
    fields: [{ name: 's', type: { ...status, symbols: ['A', 'B'] } }],
  };
  expect(avroChanges('t-value', before, after).added).toEqual([
    'event enum value t-value: n.Status.B',
  ]);
  const entry = changelogEntry('1.1.0', avroChanges('t-value', before, after), '2026-12-05');
  expect(prependEntry('# Changelog\n\n## 1.0.0\n', entry)).toMatch(
    /^# Changelog\n\n## 1\.1\.0 \(2026-12-05\)\n\nAdded:\n\n- event enum value t-value: n\.Status\.B\n[\s\S]*## 1\.0\.0/,
  );
});
