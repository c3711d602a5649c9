// Apicurio Registry 3 (Quarkus), serving the Confluent Schema Registry API under
// /apis/ccompat/v7, with its storage in the stack's PostgreSQL (`registry` database).
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StackError } from './errors.js';
import { findJavaForRegistry, runMaven, type JavaRuntime } from './jvm.js';
import { installHint } from './prerequisites.js';
import { APICURIO_VERSION, LOOPBACK_HOST, type StackConfig } from './paths.js';
import type { ServerLogin } from './postgres.js';
import {
  assertPortsFree,
  awaitReady,
  findOnPath,
  ownedPid,
  runCommand,
  spawnDetached,
  stopComponent,
} from './process.js';

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const HTTP_TIMEOUT_MS = 2_000;
const DEFAULT_COMPATIBILITY = 'BACKWARD';

export interface RegistryPlan {
  java: JavaRuntime;
  appDir: string;
}

const ARTIFACT = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`;
const COMPLETE_MARKER = '.complete';

function apicurioCacheDir(config: StackConfig): string {
  return join(config.cacheDir, 'apicurio');
}

function tarballPath(config: StackConfig): string {
  return join(apicurioCacheDir(config), `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
}

export function localRegistryUrl(config: StackConfig): string {
  return `http://${LOOPBACK_HOST}:${config.ports.registry}/apis/ccompat/v7`;
}

function managementUrl(config: StackConfig): string {
  return `http://${LOOPBACK_HOST}:${config.ports.registryManagement}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Prerequisites: a Java 21+, and Maven/tar when the cache does not hold the app yet. */
export async function planRegistry(config: StackConfig): Promise<RegistryPlan> {
  const java = await findJavaForRegistry(config.env);
  const appDir = join(apicurioCacheDir(config), `apicurio-registry-app-${APICURIO_VERSION}`);
  if (!(await exists(join(appDir, COMPLETE_MARKER)))) {
    if (!(await exists(tarballPath(config))) && !findOnPath('mvn', config.env)) {
      throw new StackError(
        `mvn not found: Maven is needed once to download Apicurio Registry ${APICURIO_VERSION} ` +
          `into ${apicurioCacheDir(config)}; ${installHint('maven')} (or copy a filled cache there)`,
      );
    }
    if (!findOnPath('tar', config.env)) {
      throw new StackError(
        `tar not found: needed once to unpack Apicurio Registry into ${apicurioCacheDir(config)}; ` +
          installHint('tar'),
      );
    }
  }
  return { java, appDir };
}

/** Downloads (Maven) and unpacks the Quarkus app into the cache once. */
export async function prepareRegistry(
  config: StackConfig,
  plan: RegistryPlan,
  log: (message: string) => void,
): Promise<void> {
  await mkdir(join(config.dirs.registry, 'tmp'), { recursive: true });
  if (await exists(join(plan.appDir, COMPLETE_MARKER))) return;
  const cacheDir = apicurioCacheDir(config);
  await mkdir(cacheDir, { recursive: true });
  if (!(await exists(tarballPath(config)))) {
    log(`registry: downloading Apicurio Registry ${APICURIO_VERSION} with Maven (once)`);
    await runMaven({
      args: ['dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${cacheDir}`],
      cwd: cacheDir,
      env: config.env,
      purpose: `Apicurio Registry ${APICURIO_VERSION}`,
      cacheDir,
      progress: (message) => log(`registry: ${message}`),
    });
  }
  log(`registry: unpacking ${tarballPath(config)} (once)`);
  const scratchDir = `${plan.appDir}.unpack`;
  await rm(scratchDir, { recursive: true, force: true });
  await mkdir(scratchDir, { recursive: true });
  const tar = findOnPath('tar', config.env) ?? 'tar';
  const result = await runCommand(tar, ['-xzf', tarballPath(config), '-C', scratchDir], {
    env: config.env,
    timeoutMs: 180_000,
    description: 'unpacking Apicurio Registry',
  });
  if (result.exitCode !== 0 || !(await exists(join(scratchDir, 'quarkus-run.jar')))) {
    throw new StackError(
      `could not unpack ${tarballPath(config)} (exit ${result.exitCode}): ` +
        `${result.output.trim().split('\n')[0] ?? 'no quarkus-run.jar'}; delete it to download again`,
    );
  }
  await writeFile(join(scratchDir, COMPLETE_MARKER), `${ARTIFACT}\n`);
  await rm(plan.appDir, { recursive: true, force: true });
  await rename(scratchDir, plan.appDir);
}

function processMarker(config: StackConfig): string {
  return `-Dledgerline.stack.registry=${config.dirs.registry}`;
}

export async function registryPid(config: StackConfig): Promise<number | undefined> {
  return ownedPid(config.pidFiles.registry, processMarker(config));
}

export async function startRegistry(
  config: StackConfig,
  plan: RegistryPlan,
  storage: ServerLogin & { database: string },
  log: (message: string) => void,
): Promise<{ started: boolean }> {
  const logFile = config.logFiles.registry;
  let pid = await registryPid(config);
  const started = pid === undefined;
  if (pid === undefined) {
    await assertPortsFree('the registry', LOOPBACK_HOST, [
      [config.ports.registry, 'LEDGERLINE_REGISTRY_PORT'],
      [config.ports.registryManagement, 'LEDGERLINE_REGISTRY_MANAGEMENT_PORT'],
    ]);
    const tmpDir = join(config.dirs.registry, 'tmp');
    pid = await spawnDetached({
      command: plan.java.javaBin,
      args: [
        '-Xmx512m',
        '-XX:+ExitOnOutOfMemoryError',
        // Class-data sharing archive, written at the first clean exit: faster warm starts.
        '-XX:+AutoCreateSharedArchive',
        `-XX:SharedArchiveFile=${join(config.dirs.registry, 'registry-cds.jsa')}`,
        `-Djava.io.tmpdir=${tmpDir}`,
        processMarker(config),
        '-jar',
        join(plan.appDir, 'quarkus-run.jar'),
      ],
      env: {
        ...config.env,
        APICURIO_STORAGE_KIND: 'sql',
        APICURIO_STORAGE_SQL_KIND: 'postgresql',
        APICURIO_DATASOURCE_URL: `jdbc:postgresql://${storage.host}:${storage.port}/${storage.database}`,
        APICURIO_DATASOURCE_USERNAME: storage.user,
        APICURIO_DATASOURCE_PASSWORD: storage.password,
        // The default pool holds 20 connections open; a dev registry needs few.
        APICURIO_DATASOURCE_JDBC_INITIAL_SIZE: '2',
        APICURIO_DATASOURCE_JDBC_MIN_SIZE: '2',
        APICURIO_DATASOURCE_JDBC_MAX_SIZE: '20',
        APICURIO_STORAGE_SNAPSHOT_LOCATION: tmpDir,
        APICURIO_IMPORT_WORK_DIR: tmpDir,
        QUARKUS_HTTP_HOST: LOOPBACK_HOST,
        QUARKUS_HTTP_PORT: String(config.ports.registry),
        QUARKUS_MANAGEMENT_HOST: LOOPBACK_HOST,
        QUARKUS_MANAGEMENT_PORT: String(config.ports.registryManagement),
      },
      cwd: config.dirs.registry,
      logFile,
      pidFile: config.pidFiles.registry,
    });
    log(`registry: started pid ${pid}`);
  }
  await awaitReady({
    component: 'the registry',
    pid,
    logFile,
    errorPattern: /ERROR|FATAL|Exception/,
    answers: () => registryAnswers(config),
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 250,
    stopLaunched: started ? () => stopRegistry(config) : undefined,
  });
  await ensureGlobalCompatibility(config, log);
  return { started };
}

/** Ready = management health says UP and the Confluent API answers. */
export async function registryAnswers(config: StackConfig): Promise<boolean> {
  try {
    const health = await fetch(`${managementUrl(config)}/health/ready`, {
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const body = (await health.json()) as { status?: string };
    if (!health.ok || body.status !== 'UP') return false;
    const ccompat = await fetch(`${localRegistryUrl(config)}/config`, {
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    await ccompat.arrayBuffer();
    return ccompat.ok;
  } catch {
    return false;
  }
}

/**
 * Apicurio's global compatibility is NONE out of the box, which would let any schema change
 * through a subject without its own setting. Set a sane default once; leave a deliberate
 * setting alone.
 */
async function ensureGlobalCompatibility(
  config: StackConfig,
  log: (message: string) => void,
): Promise<void> {
  const url = `${localRegistryUrl(config)}/config`;
  const current = await askRegistry(url, { method: 'GET' });
  const body = JSON.parse(current.text) as { compatibilityLevel?: string };
  if (body.compatibilityLevel !== undefined && body.compatibilityLevel !== 'NONE') return;
  const update = await askRegistry(url, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: DEFAULT_COMPATIBILITY }),
  });
  if (!update.ok) {
    throw new StackError(
      `could not set the registry's global compatibility (HTTP ${update.status}: ${update.text.slice(0, 200)})`,
    );
  }
  log(`registry: global compatibility set to ${DEFAULT_COMPATIBILITY} (was NONE)`);
}

/** Attempts of one request to the registry before the start-up gives up on it. */
const REGISTRY_ATTEMPTS = 3;

/**
 * One request, asked again when it gets no answer: the registry now and then takes a request
 * and never answers it, or closes the connection unanswered (platform's RegistryNoAnswerError).
 * Both requests here are safe to repeat.
 */
async function askRegistry(
  url: string,
  init: RequestInit,
): Promise<{ ok: boolean; status: number; text: string }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
      return { ok: response.ok, status: response.status, text: await response.text() };
    } catch (error) {
      if (attempt >= REGISTRY_ATTEMPTS) {
        throw new StackError(
          `the registry did not answer ${init.method} ${url} (${REGISTRY_ATTEMPTS} attempts of ${HTTP_TIMEOUT_MS} ms): ${String(error)}`,
        );
      }
    }
  }
}

export async function stopRegistry(config: StackConfig): Promise<boolean> {
  return stopComponent({
    pid: await registryPid(config),
    pidFile: config.pidFiles.registry,
    description: 'the registry',
    signal: 'SIGTERM',
    graceMs: STOP_GRACE_MS,
  });
}
