// The `ledgerline` command runs the CLI compiled to JavaScript (codegen/bin/ledgerline.js builds
// codegen/dist/ on the first call and whenever a source changed). It must answer exactly as the
// TypeScript sources run through tsx do (how the command ran before), and never run a build
// older than the sources. Speed is measured by `npm run cli:startup`, not here.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin', 'ledgerline');
const SOURCE_CLI = `
const { register } = await import('tsx/esm/api');
register();
const { main } = await import(${JSON.stringify(path.join(ROOT, 'codegen', 'src', 'cli.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

interface Answer {
  exit: number;
  stdout: string;
  stderr: string;
}

let dist = '';
let dir = '';

beforeAll(async () => {
  dist = await mkdtemp(path.join(tmpdir(), 'ledgerline-cli-dist-'));
  dir = await mkdtemp(path.join(tmpdir(), 'ledgerline-cli-'));
});

afterAll(async () => {
  await rm(dist, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

async function answer(command: string, args: string[]): Promise<Answer> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, {
      cwd: ROOT,
      env: { ...process.env, LEDGERLINE_CLI_DIST: dist },
    });
    return { exit: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout: string; stderr: string };
    if (typeof failed.code !== 'number') throw error;
    return { exit: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const compiled = (...args: string[]) => answer(BIN, args);
const fromSource = (...args: string[]) =>
  answer(process.execPath, ['--input-type=module', '-e', SOURCE_CLI, ...args]);

interface Manifest {
  build: string;
  inputs: string[];
}
const manifest = async (): Promise<Manifest> =>
  JSON.parse(await readFile(path.join(dist, 'manifest.json'), 'utf8')) as Manifest;

async function schemaFile(name: string, fields: unknown[]): Promise<string> {
  const file = path.join(dir, name);
  const schema = { type: 'record', name: 'PaymentRequested', namespace: 'ledgerline.t', fields };
  await writeFile(file, JSON.stringify(schema));
  return file;
}

describe('the compiled ledgerline CLI', () => {
  it('builds on its first call and answers as the sources do, command by command', async () => {
    const v1 = await schemaFile('v1.avsc', [{ name: 'amountMinor', type: 'long' }]);
    const v2 = await schemaFile('v2.avsc', [
      { name: 'amountMinor', type: 'long' },
      { name: 'memo', type: 'string', default: '' },
    ]);
    const narrowed = await schemaFile('narrowed.avsc', [{ name: 'amountMinor', type: 'int' }]);
    const calls: string[][] = [
      [],
      ['compat', '--help'],
      ['compat', '--mode', 'FULL_TRANSITIVE', v2, v1],
      ['compat', '--mode', 'BACKWARD', '--format', 'json', narrowed, v1],
      ['compat', '--mode', 'BACKWARD', path.join(dir, 'missing.avsc'), v1],
      [
        'openapi-diff',
        path.join(ROOT, 'contracts', 'released', 'openapi', 'ledger.json'),
        path.join(ROOT, 'contracts', 'openapi', 'ledger.yaml'),
      ],
      ['keys', '--help'],
      ['dead-letters', '--help'],
      ['check'],
    ];
    const answers: Answer[] = [];
    for (const args of calls) {
      const [ours, before] = await Promise.all([compiled(...args), fromSource(...args)]);
      expect({ args, ...ours }).toEqual({ args, ...before });
      answers.push(ours);
    }
    // the cases above are the ones they claim to be
    expect(answers.map((a) => a.exit)).toEqual([2, 2, 0, 1, 2, 0, 2, 2, 0]);
    expect(answers[3]?.stdout).toContain('amountMinor');
    expect(answers[8]?.stdout).toContain('generated/ is in sync with contracts/');

    const built = await manifest();
    expect(built.inputs).toContain(path.join(ROOT, 'codegen', 'src', 'cli.ts'));
    expect(built.inputs).toContain(path.join(ROOT, 'platform', 'src', 'auth', 'keys-cli.ts'));
    expect((await stat(path.join(dist, built.build, 'cli.js'))).isFile()).toBe(true);
  }, 120_000);

  it('reuses a build while its sources are unchanged and rebuilds once one changed', async () => {
    await compiled('compat', '--help');
    const before = await manifest();
    await compiled('compat', '--help');
    expect((await manifest()).build).toBe(before.build);

    // a source saved since the build (here only its mtime moves, the text stays the same)
    const source = path.join(ROOT, 'codegen', 'src', 'errors.ts');
    const { atime, mtime } = await stat(source);
    try {
      await utimes(source, atime, new Date(mtime.getTime() + 1000));
      const again = await compiled('compat', '--help');
      expect(again.exit).toBe(2);
      expect((await manifest()).build).not.toBe(before.build);
    } finally {
      await utimes(source, atime, mtime);
    }
  }, 60_000);
});
