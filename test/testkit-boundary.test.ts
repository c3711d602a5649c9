// Test and benchmark tooling lives in the testkit workspace, and the code every service ships
// never depends on it: no module under platform/src, services/*/src, stack/src, codegen/src,
// generated/src or the console (console/src, console/web) imports @ledgerline/testkit (or
// reaches into testkit/ by a relative path), and no runtime workspace declares it as a
// dependency.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const TESTKIT_DIR = path.join(ROOT, 'testkit');

async function runtimeSourceDirs(): Promise<string[]> {
  const services = await readdir(path.join(ROOT, 'services'));
  return [
    ...['platform', 'stack', 'codegen', 'generated', 'console'].map((w) =>
      path.join(ROOT, w, 'src'),
    ),
    path.join(ROOT, 'console', 'web'),
    ...services.map((s) => path.join(ROOT, 'services', s, 'src')),
  ];
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every module specifier a source file names: static imports, re-exports, import(), require(). */
function specifiersOf(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"`])([^'"`]+)\1/g;
  return [...source.matchAll(pattern)].map((m) => m[2]!);
}

function reachesTestkit(file: string, specifier: string): boolean {
  if (specifier === '@ledgerline/testkit' || specifier.startsWith('@ledgerline/testkit/')) {
    return true;
  }
  if (!specifier.startsWith('.')) return false;
  const target = path.resolve(path.dirname(file), specifier);
  return target === TESTKIT_DIR || target.startsWith(`${TESTKIT_DIR}${path.sep}`);
}

describe('the testkit boundary', () => {
  it('finds the imports it looks for (the check can fail)', () => {
    const file = path.join(ROOT, 'services', 'ledger', 'src', 'x.ts');
    const sample = [
      "import { TopicReader } from '@ledgerline/testkit/testing';",
      "export { startPlatform } from '@ledgerline/testkit/platform';",
      "const m = await import('../../../testkit/src/procstat.js');",
      "import '@ledgerline/platform/log';",
    ].join('\n');
    expect(specifiersOf(sample).filter((s) => reachesTestkit(file, s))).toEqual([
      '@ledgerline/testkit/testing',
      '@ledgerline/testkit/platform',
      '../../../testkit/src/procstat.js',
    ]);
  });

  it('no runtime module imports the testkit', async () => {
    const offenders: string[] = [];
    let checked = 0;
    for (const dir of await runtimeSourceDirs()) {
      for (const file of await sourceFiles(dir)) {
        checked += 1;
        const source = await readFile(file, 'utf8');
        for (const specifier of specifiersOf(source)) {
          if (reachesTestkit(file, specifier)) {
            offenders.push(`${path.relative(ROOT, file)} imports ${specifier}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(offenders).toEqual([]);
  });

  it('no runtime workspace declares the testkit as a dependency', async () => {
    const services = await readdir(path.join(ROOT, 'services'));
    const manifests = [
      ...['platform', 'stack', 'codegen', 'generated'].map((w) => path.join(w, 'package.json')),
      ...services.map((s) => path.join('services', s, 'package.json')),
    ];
    const declaring: string[] = [];
    for (const manifest of manifests) {
      const pkg = JSON.parse(await readFile(path.join(ROOT, manifest), 'utf8')) as Record<
        string,
        Record<string, string> | undefined
      >;
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
        if (pkg[field]?.['@ledgerline/testkit'] !== undefined) declaring.push(manifest);
      }
    }
    expect(declaring).toEqual([]);
  });

  it('the runtime packages no longer hold the test tooling', async () => {
    const platformFiles = (await sourceFiles(path.join(ROOT, 'platform', 'src'))).map((f) =>
      path.relative(ROOT, f),
    );
    expect(platformFiles).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/(testing|procstat|cpu-profile)\.ts$/)]),
    );
  });
});
