// A `ledgerline` command that takes no arguments refuses any, and does nothing: an option it
// does not know must not be ignored (`ledgerline release --dry-run` used to release).
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin', 'ledgerline');

/** Every file under `dir` with its content, as one string to compare. */
async function contentsOf(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const parts = await Promise.all(files.map(async (f) => `${f}\n${await readFile(f, 'utf8')}`));
  return parts.join('\n');
}

async function ledgerline(args: readonly string[]): Promise<{ exit: number; stderr: string }> {
  try {
    await promisify(execFile)(BIN, [...args], { cwd: ROOT });
    return { exit: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code?: unknown; stderr: string };
    if (typeof failed.code !== 'number') throw error;
    return { exit: failed.code, stderr: failed.stderr };
  }
}

test.each([
  [['release', '--dry-run'], '--dry-run'],
  [['check', '--bogus'], '--bogus'],
  [['generate', 'contracts/avro'], 'contracts/avro'],
  [['register', '--dry-run'], '--dry-run'],
  [['register', 'http://127.0.0.1:1', 'http://127.0.0.1:2'], 'http://127.0.0.1:2'],
])(
  'ledgerline %j refuses what it does not take, and changes nothing',
  async (args, named) => {
    const released = path.join(ROOT, 'contracts', 'released');
    const generated = path.join(ROOT, 'generated');
    const before = [await contentsOf(released), await contentsOf(generated)];
    const answer = await ledgerline(args);
    expect(answer.exit).toBe(2);
    expect(answer.stderr).toContain(`ledgerline ${args[0]}: unexpected ${named}; nothing was done`);
    expect(answer.stderr).toContain('usage: ledgerline <command>');
    expect([await contentsOf(released), await contentsOf(generated)]).toEqual(before);
  },
  60_000,
);
