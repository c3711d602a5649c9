// Builds and packs @ledgerline/client and @ledgerline/events from the contracts:
// `tsx sdk/build.ts [outDir]` -> <outDir>/<package>-<version>.tgz, printed as JSON with the
// packed sizes. Each package is staged on its own (hand-written sources plus the generated and
// platform files they import, with workspace specifiers rewritten to relative ones), compiled
// by tsc to ESM + .d.ts, and packed with its run-time dependencies bundled in the tarball
// (bundleDependencies), so it installs offline and needs nothing of this repository.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { loadContracts } from '@ledgerline/codegen/generate';
import { contractsVersion } from '@ledgerline/codegen/released';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORKSPACES: Record<string, string> = {
  '@ledgerline/generated/': 'generated/src/',
  '@ledgerline/platform/': 'platform/src/',
};
const SPECIFIER = /(from\s+|import\()'(@ledgerline\/(?:generated|platform)\/[^']+)'/g;

export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
  readonly packedBytes: number;
  readonly unpackedBytes: number;
}

/**
 * The SDK version: the released contracts' version (contracts/released/VERSION) when the
 * contracts are the released ones, else the next version marked "-unreleased" (see
 * contractsVersion): the packages are built from the current contracts.
 */
export async function sdkVersion(): Promise<string> {
  const contractsDir = path.join(ROOT, 'contracts');
  const { version } = await contractsVersion(
    await loadContracts(contractsDir),
    path.join(contractsDir, 'released'),
  );
  return version;
}

/**
 * Copies `file` (repo-relative) into `srcDir` at `target`, rewriting workspace imports to
 * relative ones and copying what they name, recursively.
 */
async function stage(file: string, srcDir: string, target: string, seen: Set<string>) {
  if (seen.has(target)) return;
  seen.add(target);
  const text = await readFile(path.join(ROOT, file), 'utf8');
  const pending: Promise<void>[] = [];
  const rewritten = text.replace(SPECIFIER, (_match, prefix: string, specifier: string) => {
    const workspace = Object.keys(WORKSPACES).find((w) => specifier.startsWith(w))!;
    const rest = specifier.slice(workspace.length);
    const stagedPath = `${workspace.includes('generated') ? 'generated' : 'platform'}/${rest}.ts`;
    pending.push(stage(`${WORKSPACES[workspace]}${rest}.ts`, srcDir, stagedPath, seen));
    let relative = path.posix.relative(path.posix.dirname(target), stagedPath);
    if (!relative.startsWith('.')) relative = `./${relative}`;
    return `${prefix}'${relative.replace(/\.ts$/, '.js')}'`;
  });
  // Relative imports inside a copied workspace file name its siblings: copy them too.
  for (const [, relative] of rewritten.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) {
    if (!file.startsWith('sdk/')) {
      const sibling = path.posix.join(path.posix.dirname(file), `${relative}.ts`);
      const siblingTarget = path.posix.join(path.posix.dirname(target), `${relative}.ts`);
      pending.push(stage(sibling, srcDir, siblingTarget, seen));
    }
  }
  await mkdir(path.dirname(path.join(srcDir, target)), { recursive: true });
  await writeFile(path.join(srcDir, target), rewritten);
  await Promise.all(pending);
}

function compile(stageDir: string, lib: string[]): void {
  const srcDir = path.join(stageDir, 'src');
  const files = ts.sys.readDirectory(srcDir, ['.ts']);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: lib.map((l) => `lib.${l.toLowerCase()}.d.ts`),
    strict: true,
    declaration: true,
    sourceMap: false,
    rootDir: srcDir,
    outDir: path.join(stageDir, 'dist'),
    skipLibCheck: true,
    esModuleInterop: true,
    verbatimModuleSyntax: true,
    removeComments: false,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules/@types')],
  };
  const program = ts.createProgram(files, options);
  const result = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0) {
    const host = {
      getCanonicalFileName: (f: string) => f,
      getCurrentDirectory: () => stageDir,
      getNewLine: () => '\n',
    };
    throw new Error(ts.formatDiagnostics(diagnostics, host));
  }
}

async function vendor(stageDir: string, names: string[]): Promise<Record<string, string>> {
  const dependencies: Record<string, string> = {};
  for (const name of names) {
    const from = path.join(ROOT, 'node_modules', name);
    const manifest = JSON.parse(await readFile(path.join(from, 'package.json'), 'utf8')) as {
      version: string;
    };
    await cp(from, path.join(stageDir, 'node_modules', name), { recursive: true });
    dependencies[name] = manifest.version;
  }
  return dependencies;
}

/** The events package's topic table, from the contracts' generated topics. */
async function writeEventTopics(srcDir: string, seen: Set<string>): Promise<void> {
  const { allTopics } = await import('@ledgerline/generated/topics');
  for (const file of ['avro/types', 'avro/schemas']) {
    await stage(`generated/src/${file}.ts`, srcDir, `generated/${file}.ts`, seen);
  }
  const lines = [
    '// Generated by sdk/build.ts from contracts/topics.yaml. Do not edit.',
    "import type avsc from 'avsc';",
    "import type { EventTopic } from './serde.js';",
  ];
  const valueTypes = new Set<string>();
  const entries: string[] = [];
  for (const topic of allTopics) {
    // Schemas are named by their full Avro name (ledgerline.payments.v1.X); types by X.
    const valueName = (topic.valueSchema as { name: string }).name.split('.').pop()!;
    valueTypes.add(valueName);
    const constName = `${topic.name.replace(/[.-](\w)/g, (_m, c: string) => c.toUpperCase())}Topic`;
    entries.push(constName);
    lines.push(
      `/** ${topic.name}: produced by ${topic.producers.join(', ')}. */`,
      `export const ${constName}: EventTopic<string, ${valueName}, ${valueName}Input> = {`,
      `  name: ${JSON.stringify(topic.name)},`,
      `  keySubject: ${JSON.stringify(topic.keySubject)},`,
      `  valueSubject: ${JSON.stringify(topic.valueSubject)},`,
      `  keySchema: ${JSON.stringify(topic.keySchema)} as avsc.Schema,`,
      `  valueSchema: ${valueName}Schema,`,
      '};',
    );
  }
  const names = [...valueTypes].sort();
  lines.splice(
    3,
    0,
    `import type { ${names.flatMap((n) => [n, `${n}Input`]).join(', ')} } from './generated/avro/types.js';`,
    `import { ${names.map((n) => `${n}Schema`).join(', ')} } from './generated/avro/schemas.js';`,
  );
  lines.push(`export const allTopics = [${entries.join(', ')}] as const;`, '');
  await writeFile(path.join(srcDir, 'topics.ts'), lines.join('\n'));
  await writeFile(
    path.join(srcDir, 'index.ts'),
    [
      '// Generated by sdk/build.ts. Do not edit.',
      "export * from './serde.js';",
      "export * from './topics.js';",
      "export type * from './generated/avro/types.js';",
      "export * as schemas from './generated/avro/schemas.js';",
      '',
    ].join('\n'),
  );
}

interface PackageSpec {
  readonly name: string;
  readonly dir: string;
  readonly entries: string[];
  readonly vendored: string[];
  readonly lib: string[];
  readonly description: string;
  readonly generateEntry?: (srcDir: string, seen: Set<string>) => Promise<void>;
}

const PACKAGES: PackageSpec[] = [
  {
    name: '@ledgerline/client',
    dir: 'sdk/client',
    entries: ['index.ts', 'retry.ts'],
    vendored: ['openapi-fetch', 'openapi-typescript-helpers'],
    lib: ['ES2023', 'DOM'],
    description: "Typed clients of Ledgerline's HTTP APIs (Node >= 20 and browsers).",
  },
  {
    name: '@ledgerline/events',
    dir: 'sdk/events',
    entries: ['serde.ts'],
    vendored: ['avsc'],
    lib: ['ES2023'],
    description: "Ledgerline's Kafka events: Avro schemas, TypeScript types, typed codecs.",
    generateEntry: writeEventTopics,
  },
];

async function buildPackage(
  spec: PackageSpec,
  version: string,
  outDir: string,
): Promise<PackedPackage> {
  const stageDir = path.join(outDir, spec.name.replace('@ledgerline/', ''));
  await rm(stageDir, { recursive: true, force: true });
  const srcDir = path.join(stageDir, 'src');
  const seen = new Set<string>();
  for (const entry of spec.entries) {
    await stage(`${spec.dir}/src/${entry}`, srcDir, entry, seen);
  }
  await spec.generateEntry?.(srcDir, seen);
  const dependencies = await vendor(stageDir, spec.vendored);
  // tsc compiles .ts as ESM only under a package.json of type module; the real one follows.
  await writeFile(path.join(stageDir, 'package.json'), '{"type":"module"}\n');
  compile(stageDir, spec.lib);
  await rm(srcDir, { recursive: true });
  const manifest = {
    name: spec.name,
    version,
    description: spec.description,
    license: 'Apache-2.0',
    type: 'module',
    engines: { node: '>=20' },
    sideEffects: false,
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist', 'CHANGELOG.md'],
    dependencies,
    bundleDependencies: Object.keys(dependencies),
  };
  await writeFile(path.join(stageDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await cp(path.join(ROOT, 'contracts/released/CHANGELOG.md'), path.join(stageDir, 'CHANGELOG.md'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], {
      cwd: stageDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string; size: number; unpackedSize: number }[];
  const [info] = packed;
  if (info === undefined) throw new Error(`npm pack of ${spec.name} reported nothing`);
  return {
    name: spec.name,
    version,
    tarball: path.join(outDir, info.filename),
    packedBytes: info.size,
    unpackedBytes: info.unpackedSize,
  };
}

/** Builds and packs both packages into `outDir`. */
export async function buildSdk(outDir: string): Promise<PackedPackage[]> {
  const version = await sdkVersion();
  await mkdir(outDir, { recursive: true });
  const packed: PackedPackage[] = [];
  for (const spec of PACKAGES) packed.push(await buildPackage(spec, version, outDir));
  return packed;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = path.resolve(process.argv[2] ?? path.join(ROOT, 'sdk/dist'));
  process.stdout.write(`${JSON.stringify(await buildSdk(outDir), null, 2)}\n`);
}
