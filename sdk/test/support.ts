// Scratch projects for the SDK tests: the packages are built and packed once per test file,
// installed offline from their tarballs into a temporary directory that holds nothing of this
// repository, and the README's examples are compiled there and run with plain node.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildSdk, type PackedPackage } from '../build.js';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Bound of one child process (install, compile, example run). */
export const CHILD_TIMEOUT_MS = 120_000;

/** The README's runnable examples, by the name in their `<!-- sdk-example: NAME -->` marker. */
export async function readmeExamples(): Promise<Map<string, string>> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const examples = new Map<string, string>();
  const pattern = /<!-- sdk-example: (\S+) -->\s*```\w*\n([\s\S]*?)```/g;
  for (const [, name, body] of readme.matchAll(pattern)) examples.set(name!, body!);
  return examples;
}

export interface ScratchProject {
  readonly dir: string;
  readonly sdkDir: string;
  readonly packages: readonly PackedPackage[];
}

/**
 * Builds both packages, packs kafkajs (a consumer brings its own Kafka client) and installs
 * them with the README's install example, offline, into a new scratch project.
 */
export async function createScratchProject(install: string): Promise<ScratchProject> {
  const sdkDir = await mkdtemp(path.join(tmpdir(), 'ledgerline-sdk-'));
  const packages = await buildSdk(sdkDir);
  const dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-scratch-'));
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
  );
  const options = { cwd: dir, timeout: CHILD_TIMEOUT_MS, env: { ...process.env, SDK_DIR: sdkDir } };
  await run('sh', ['-c', install], options);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', sdkDir], {
    ...options,
    cwd: path.join(ROOT, 'node_modules/kafkajs'),
  });
  const [kafkajs] = JSON.parse(stdout) as { filename: string }[];
  await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', path.join(sdkDir, kafkajs!.filename)],
    options,
  );
  // Types for node's globals only; everything else resolves from the scratch node_modules.
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
        outDir: 'out',
      },
      include: ['*.ts'],
    }),
  );
  return { dir, sdkDir, packages };
}

/** Compiles the scratch project's TypeScript; resolves with tsc's output, rejects on errors. */
export async function compileScratch(dir: string): Promise<void> {
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    cwd: dir,
    timeout: CHILD_TIMEOUT_MS,
  });
}

/** Runs a compiled example with plain node (no tsx, no loader); its stdout lines. */
export async function runScratch(
  dir: string,
  script: string,
  env: Record<string, string>,
  timeoutMs = CHILD_TIMEOUT_MS,
): Promise<string[]> {
  const { stdout } = await run(process.execPath, [path.join(dir, 'out', script)], {
    cwd: dir,
    timeout: timeoutMs,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}
