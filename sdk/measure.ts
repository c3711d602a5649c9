// Prints what another team pays for each SDK package: its packed (tarball) and unpacked size
// and its cold import time (a fresh node process importing it, median of IMPORT_RUNS), from
// the tarballs installed offline into a scratch project. `npx tsx sdk/measure.ts`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildSdk } from './build.js';

const run = promisify(execFile);
const IMPORT_RUNS = 7;
/** Bound of one child process. */
const CHILD_TIMEOUT_MS = 120_000;

/** Milliseconds from process start to the package's module evaluated, in a fresh process. */
async function coldImportMs(dir: string, name: string): Promise<number> {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(name)}); console.log(performance.now() - t0);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    timeout: CHILD_TIMEOUT_MS,
  });
  return Number(stdout.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const work = await mkdtemp(path.join(tmpdir(), 'ledgerline-sdk-measure-'));
try {
  const packages = await buildSdk(path.join(work, 'packed'));
  const project = path.join(work, 'project');
  await run('mkdir', ['-p', project]);
  await writeFile(path.join(project, 'package.json'), '{"name":"measure","type":"module"}');
  await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', ...packages.map((p) => p.tarball)],
    { cwd: project, timeout: CHILD_TIMEOUT_MS },
  );
  const rows = [];
  for (const pkg of packages) {
    const times: number[] = [];
    for (let i = 0; i < IMPORT_RUNS; i += 1) times.push(await coldImportMs(project, pkg.name));
    rows.push({
      package: `${pkg.name}@${pkg.version}`,
      packedKiB: Math.round(pkg.packedBytes / 102.4) / 10,
      unpackedKiB: Math.round(pkg.unpackedBytes / 102.4) / 10,
      coldImportMs: Math.round(median(times) * 10) / 10,
    });
  }
  console.table(rows);
} finally {
  await rm(work, { recursive: true, force: true });
}
