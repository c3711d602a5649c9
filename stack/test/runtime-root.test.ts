// What clones that no longer exist leave under the runtime root (their PostgreSQL data, copies
// of binaries named by their path, unfinished copies) is removed when a stack starts; what a
// live clone or a running server uses, or whose owner cannot be told, stays.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneRuntimeRoot } from '../src/postgres.js';

describe('pruning the runtime root', () => {
  let scratch: string;
  let root: string;
  let liveHome: string;
  const gone = (name: string): string => join(scratch, 'deleted-clones', name, '.ledgerline');
  let running: ChildProcess | undefined;

  async function dir(name: string, files: Record<string, string> = {}): Promise<void> {
    await mkdir(join(root, name, 'data'), { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      await writeFile(join(root, name, file), content);
    }
  }

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ledgerline-prune-'));
    root = join(scratch, 'runtime');
    liveHome = join(scratch, 'live-clone', '.ledgerline');
    await mkdir(liveHome, { recursive: true });
    await mkdir(join(scratch, 'live-clone', 'node_modules', 'native'), { recursive: true });
  });

  afterEach(async () => {
    running?.kill('SIGKILL');
    running = undefined;
    await rm(scratch, { recursive: true, force: true });
  });

  test('removes only the leftovers of clones and launchers that are gone, and names each', async () => {
    const liveSource = join(scratch, 'live-clone', 'node_modules', 'native');
    await mkdir(join(liveSource, 'bin'));
    await writeFile(join(liveSource, 'bin', 'postgres'), 'a server binary');
    const installed = await stat(join(liveSource, 'bin', 'postgres'));
    await dir('live-clone-aaaaaaaaaaaa', { 'clone-home': `${liveHome}\n` });
    await dir('deleted-clone-bbbbbbbbbbbb', { 'clone-home': `${gone('b')}\n` });
    await dir('unrecorded-cccccccccccc');
    await dir('postgres-binaries-0123456789ab', { '.complete': 'content 0123456789ab\n' });
    await dir('postgres-binaries-111111111111', {
      '.complete': `${liveSource} ${installed.size} ${installed.mtimeMs}\n`,
    });
    // The same clone path, from before its node_modules was installed again.
    await dir('postgres-binaries-555555555555', { '.complete': `${liveSource} 15 17.5\n` });
    await dir('postgres-binaries-222222222222', {
      '.complete': `${join(scratch, 'deleted-clones', 'b', 'node_modules', 'native')} 9773064 17.5\n`,
    });
    await dir(`postgres-binaries-333333333333.copy-${process.pid}`);
    await dir('postgres-binaries-444444444444.copy-2147483646');

    const logged: string[] = [];
    await pruneRuntimeRoot(root, (line) => logged.push(line));

    expect((await readdir(root)).sort()).toEqual([
      'live-clone-aaaaaaaaaaaa',
      'postgres-binaries-0123456789ab',
      'postgres-binaries-111111111111',
      `postgres-binaries-333333333333.copy-${process.pid}`,
      'unrecorded-cccccccccccc',
    ]);
    expect(logged.sort()).toEqual([
      `postgres: removed ${join(root, 'deleted-clone-bbbbbbbbbbbb')} (the PostgreSQL data of ${gone('b')}, which no longer exists)`,
      `postgres: removed ${join(root, 'postgres-binaries-222222222222')} (a copy of binaries from ${join(scratch, 'deleted-clones', 'b', 'node_modules', 'native')}, which no longer exists)`,
      `postgres: removed ${join(root, 'postgres-binaries-444444444444.copy-2147483646')} (an unfinished copy of a launcher that died)`,
      `postgres: removed ${join(root, 'postgres-binaries-555555555555')} (a copy of binaries from ${liveSource}, installed again since)`,
    ]);
  });

  test('keeps the data of a deleted clone while a server still runs on it', async () => {
    await dir('deleted-clone-dddddddddddd', { 'clone-home': `${gone('d')}\n` });
    const dataDir = join(root, 'deleted-clone-dddddddddddd', 'data');
    await writeFile(join(dataDir, 'postmaster.pid'), '1\n');
    // A process named postgres whose command line names the data directory, as the server's does.
    const fakeServer = join(scratch, 'bin', 'postgres');
    await mkdir(join(scratch, 'bin'));
    await copyFile('/usr/bin/tail', fakeServer);
    await chmod(fakeServer, 0o755);
    running = spawn(fakeServer, ['-f', join(dataDir, 'postmaster.pid')], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      running?.once('spawn', resolve);
      running?.once('error', reject);
    });

    const logged: string[] = [];
    await pruneRuntimeRoot(root, (line) => logged.push(line));
    expect(existsSync(dataDir)).toBe(true);
    expect(logged).toEqual([]);

    running.kill('SIGKILL');
    await new Promise((resolve) => running?.once('exit', resolve));
    await pruneRuntimeRoot(root, (line) => logged.push(line));
    expect(existsSync(join(root, 'deleted-clone-dddddddddddd'))).toBe(false);
    expect(logged).toHaveLength(1);
  });

  test('a runtime root that does not exist yet is nothing to prune', async () => {
    const logged: string[] = [];
    await pruneRuntimeRoot(join(scratch, 'not-created'), (line) => logged.push(line));
    expect(logged).toEqual([]);
  });
});
