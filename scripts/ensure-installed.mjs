#!/usr/bin/env node
// First step of `npm start` and `npm test`: on a fresh clone (or after package-lock.json
// changed) install the exact locked dependencies; otherwise do nothing, whoever installed them
// (this script, or the user's own `npm ci`/`npm install`). Plain Node, no dependencies of its own.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Why node_modules does not hold what package-lock.json locks, or undefined when it does.
 * npm records what it installed in node_modules/.package-lock.json (its "hidden lockfile"),
 * entry for entry as in package-lock.json; packages for other platforms (optional) are left
 * out. Our own stamp (the lock's hash after our install) is the fast path.
 */
export function installMismatch({ lockFile, nodeModulesDir, stampFile }) {
  const lockText = readFileSync(lockFile, 'utf8');
  const lockHash = createHash('sha256').update(lockText).digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === lockHash) {
    return undefined;
  }
  const hiddenFile = path.join(nodeModulesDir, '.package-lock.json');
  if (!existsSync(hiddenFile)) return 'no installation found';
  let hidden;
  try {
    hidden = JSON.parse(readFileSync(hiddenFile, 'utf8')).packages ?? {};
  } catch {
    return `${hiddenFile} is unreadable`;
  }
  const locked = JSON.parse(lockText).packages ?? {};
  const projectDir = path.dirname(nodeModulesDir);
  for (const [location, entry] of Object.entries(locked)) {
    if (location === '') continue; // the project itself
    const installed = hidden[location];
    if (installed === undefined) {
      if (entry.optional === true) continue; // another platform's binary package
      return `${location} is not installed`;
    }
    if (JSON.stringify(installed) !== JSON.stringify(entry)) {
      return `${location} differs from package-lock.json`;
    }
    if (!existsSync(path.join(projectDir, location))) return `${location} is missing`;
  }
  for (const location of Object.keys(hidden)) {
    if (!(location in locked)) return `${location} is installed but no longer locked`;
  }
  return undefined;
}

function main() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 11)) {
    console.error(
      `Node ${process.versions.node} is too old: Ledgerline needs Node 20.11 or newer; install ` +
        'it with `apt-get install nodejs` on Debian 13/Ubuntu 24.04 (or from nodejs.org for ' +
        'older releases) or `brew install node@22` on macOS.',
    );
    process.exit(1);
  }
  const lockFile = path.join(root, 'package-lock.json');
  const nodeModulesDir = path.join(root, 'node_modules');
  const stampFile = path.join(nodeModulesDir, '.ledgerline-installed');
  const mismatch = installMismatch({ lockFile, nodeModulesDir, stampFile });
  if (mismatch === undefined) return;
  console.error(`Installing dependencies (npm ci: ${mismatch}) ...`);
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('npm ci failed: see the output above.');
    process.exit(result.status ?? 1);
  }
  const lockHash = createHash('sha256').update(readFileSync(lockFile)).digest('hex');
  writeFileSync(stampFile, `${lockHash}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
