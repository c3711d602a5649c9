#!/usr/bin/env node
// The `ledgerline` command. It runs the CLI compiled to JavaScript (codegen/dist/, not in git),
// so a call does not compile TypeScript at start-up: `compat` is called once per subject.
//
// The compiled CLI is one esbuild bundle of codegen/src with the workspaces it imports
// (@ledgerline/platform, @ledgerline/generated) inlined, since their package exports point at
// TypeScript; npm packages stay external (imported from node_modules). No install script
// builds it (npm 11 asks before running those): this launcher builds it on the first call
// (about 0.2 s) and again whenever it is stale. Stale means any file the bundle was built from
// (esbuild's own list of inputs, recorded in dist/manifest.json), tsconfig.json,
// package-lock.json, a workspace package.json or this launcher has another size or mtime than
// at build time, or is gone: it never runs older code than the sources. LEDGERLINE_CLI_DIST
// puts the build elsewhere (tests).
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const launcher = fileURLToPath(import.meta.url);
const codegenDir = path.resolve(path.dirname(launcher), '..');
const rootDir = path.dirname(codegenDir);
const distDir = process.env.LEDGERLINE_CLI_DIST ?? path.join(codegenDir, 'dist');
const manifestFile = path.join(distDir, 'manifest.json');

/** Files whose change invalidates any build, besides the bundle's own inputs. */
const ALWAYS_INPUTS = [
  launcher,
  path.join(rootDir, 'tsconfig.json'),
  path.join(rootDir, 'package-lock.json'), // an install may move the npm packages imported
  ...['codegen', 'platform', 'generated'].map((w) => path.join(rootDir, w, 'package.json')),
];

/** One hash over every input's path, size and mtime; undefined when an input is gone. */
function fingerprint(inputs) {
  const hash = createHash('sha256');
  for (const file of inputs) {
    let stats;
    try {
      stats = statSync(file);
    } catch {
      return undefined;
    }
    hash.update(`${file}\0${stats.size}\0${stats.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 24);
}

function currentBuild() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch {
    return undefined;
  }
  const inputs = [...ALWAYS_INPUTS, ...manifest.inputs];
  if (fingerprint(inputs) !== manifest.fingerprint) return undefined;
  return path.join(distDir, manifest.build, 'cli.js');
}

async function build() {
  const started = Date.now();
  const esbuild = await import('esbuild');
  const scratch = path.join(distDir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(distDir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: rootDir,
    entryPoints: { cli: path.join(codegenDir, 'src', 'cli.ts') },
    outdir: scratch,
    bundle: true,
    splitting: true, // a command's dynamic import loads its own chunk only
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'error',
    plugins: [
      {
        // npm packages stay outside the bundle, imported by the absolute path esbuild resolves
        // for the importing source file (Node's rules, import conditions), so the build finds
        // the same copy the sources do wherever dist/ is. Only our workspaces are compiled in.
        name: 'external-npm-packages',
        setup(on) {
          on.onResolve({ filter: /^[^./]/ }, async (args) => {
            if (args.path.startsWith('@ledgerline/') || args.pluginData === 'npm') return;
            if (args.path.startsWith('node:')) return { external: true };
            const found = await on.resolve(args.path, {
              kind: args.kind,
              resolveDir: args.resolveDir,
              importer: args.importer,
              pluginData: 'npm',
            });
            if (found.errors.length > 0) return { errors: found.errors };
            return { path: found.path, external: true };
          });
        },
      },
      {
        // Each module keeps its source file's URL as import.meta.url, so what it finds beside
        // itself (migrations, the repository root) is where it is when run from source.
        name: 'source-import-meta-url',
        setup(on) {
          on.onLoad({ filter: /\.ts$/ }, async (args) => ({
            contents: (await readFile(args.path, 'utf8')).replaceAll(
              'import.meta.url',
              JSON.stringify(pathToFileURL(args.path).href),
            ),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs).map((f) => path.resolve(rootDir, f));
  const all = [...ALWAYS_INPUTS, ...inputs];
  // A source saved while esbuild read it may be in the bundle in either version: run this
  // build once from its scratch folder, record nothing, and the next call builds again.
  if (all.some((f) => statSync(f).mtimeMs >= started)) return path.join(scratch, 'cli.js');
  const id = fingerprint(all);
  const target = path.join(distDir, id);
  try {
    renameSync(scratch, target);
  } catch {
    rmSync(scratch, { recursive: true, force: true }); // a concurrent call built the same
  }
  const next = `${manifestFile}.${process.pid}`;
  writeFileSync(next, `${JSON.stringify({ build: id, fingerprint: id, inputs }, null, 1)}\n`);
  renameSync(next, manifestFile);
  removeOldBuilds(id);
  return path.join(target, 'cli.js');
}

/** Builds other than the current one, left an hour for calls still loading their chunks. */
function removeOldBuilds(keep) {
  const hourAgo = Date.now() - 3_600_000;
  for (const entry of readdirSync(distDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === keep) continue;
    const dir = path.join(distDir, entry.name);
    if (statSync(dir).mtimeMs < hourAgo) rmSync(dir, { recursive: true, force: true });
  }
}

const entry = currentBuild() ?? (await build());
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
