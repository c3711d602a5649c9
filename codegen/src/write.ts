// Writing generated/ (or, with --check, proving it is what the contracts produce).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

async function listFiles(dir: string, base = dir): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...(await listFiles(full, base)));
    } else out.push(path.relative(base, full));
  }
  return out.sort();
}

export interface Drift {
  missing: string[];
  changed: string[];
  extra: string[];
}

export async function findDrift(
  outDir: string,
  files: ReadonlyMap<string, string>,
): Promise<Drift> {
  const existing = await listFiles(outDir);
  const drift: Drift = { missing: [], changed: [], extra: [] };
  for (const [f, text] of files) {
    let current: string | undefined;
    try {
      current = await readFile(path.join(outDir, f), 'utf8');
    } catch {
      current = undefined;
    }
    if (current === undefined) drift.missing.push(f);
    else if (current !== text) drift.changed.push(f);
  }
  drift.extra = existing.filter((f) => !files.has(f));
  return drift;
}

export async function writeGenerated(
  outDir: string,
  files: ReadonlyMap<string, string>,
): Promise<number> {
  const drift = await findDrift(outDir, files);
  for (const f of [...drift.missing, ...drift.changed]) {
    const target = path.join(outDir, f);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, files.get(f) as string);
  }
  for (const f of drift.extra) await rm(path.join(outDir, f));
  return drift.missing.length + drift.changed.length + drift.extra.length;
}
