#!/usr/bin/env node
// `npm run cli:startup [-- N]`: how long one `ledgerline` call takes, N calls each (default 10),
// min and median wall time, for:
//   compiled   node_modules/.bin/ledgerline (the compiled CLI, as npm scripts and CI call it)
//   npx        npx ledgerline (the same, plus npm's own start-up)
//   source     the TypeScript sources compiled at start-up by tsx (how the CLI ran before)
// each on `compat --help` and on a real `compat` of one released subject (ledger.commands, the
// largest: its latest released version, as the contract in a change that left it alone,
// checked against every released version in the subject's own mode). Plain Node; the first compiled call (which may
// build codegen/dist) is not counted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const calls = Number(process.argv[2] ?? 10);
const SUBJECT = 'ledger.commands-value';

/** `compat` arguments: --mode, the new schema, then the previous ones. */
function compatArgs(dir) {
  const released = JSON.parse(
    readFileSync(path.join(root, 'contracts', 'released', 'subjects', `${SUBJECT}.json`), 'utf8'),
  );
  const previous = released.versions.map((schema, i) => {
    const file = path.join(dir, `v${i + 1}.avsc`);
    writeFileSync(file, JSON.stringify(schema));
    return file;
  });
  const latest = previous[previous.length - 1];
  return ['compat', '--mode', released.compatibility, latest, ...previous];
}

const SOURCE_CLI = `
const { register } = await import('tsx/esm/api');
register();
const { main } = await import(${JSON.stringify(path.join(root, 'codegen', 'src', 'cli.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

const RUNNERS = {
  compiled: (args) => [path.join(root, 'node_modules', '.bin', 'ledgerline'), args],
  npx: (args) => ['npx', ['--no-install', 'ledgerline', ...args]],
  source: (args) => [process.execPath, ['--input-type=module', '-e', SOURCE_CLI, ...args]],
};

function time(runner, args, expectedExit) {
  const [command, argv] = RUNNERS[runner](args);
  const started = process.hrtime.bigint();
  const result = spawnSync(command, argv, { cwd: root, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== expectedExit) {
    throw new Error(
      `${runner} ledgerline ${args.join(' ')} exited ${result.status} (expected ${expectedExit}):\n` +
        result.stderr,
    );
  }
  return ms;
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `min ${Math.round(sorted[0])} ms, median ${Math.round(median)} ms`;
}

const dir = mkdtempSync(path.join(tmpdir(), 'ledgerline-cli-startup-'));
try {
  const cases = [
    { name: 'compat --help', args: ['compat', '--help'], exit: 2 },
    { name: `compat ${SUBJECT}`, args: compatArgs(dir), exit: 0 },
  ];
  time('compiled', ['compat', '--help'], 2); // builds codegen/dist when missing or stale
  console.log(`ledgerline start-up, ${calls} calls each (node ${process.versions.node})`);
  for (const c of cases) {
    for (const runner of Object.keys(RUNNERS)) {
      const samples = Array.from({ length: calls }, () => time(runner, c.args, c.exit));
      console.log(`  ${runner.padEnd(9)} ${c.name.padEnd(48)} ${summary(samples)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
