// The four services as separate OS processes (`services/<name>/src/main.ts`, what a deployment
// runs), supervised by the suite: started with their own roles' URLs into the chaos database,
// killed, paused and continued by signal, restarted. A paused instance gets a replacement, as an
// orchestrator whose liveness probe failed would start one; the load talks to the newest live
// instance of a service, like a load balancer.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { urlForRole } from '@ledgerline/platform/db';
import {
  databaseUrlVariable,
  developmentPassword,
  loginRoles,
  type ServiceDatabase,
} from '@ledgerline/platform/deploy';
import type { ServiceName } from './schedule.js';
import { freeChaosPort, withoutStackVariables, type ChaosStack } from './stack.js';

const READY_WAIT_MS_MAX = 90_000;
const STOP_WAIT_MS_MAX = 35_000;
const PROBE_TIMEOUT_MS = 2_000;

export interface ServiceInstance {
  readonly service: ServiceName;
  /** ledger#1, ledger#2 (a replacement) ... */
  readonly id: string;
  readonly url: string;
  readonly pid: number;
  paused: boolean;
  readonly child: ChildProcess;
}

/** Settings every instance of a service gets (the chaos run's, not production's). */
const SERVICE_SETTINGS: Record<ServiceName, Record<string, string>> = {
  ledger: {},
  processor: {},
  // Runs only on demand: the suite asks for one over each scenario's window, once the platform
  // has drained, so nothing is in flight and every outcome is due at once.
  reconciliation: { RECONCILIATION_INTERVAL_MS: '0', RECONCILIATION_OUTCOME_TIMEOUT_MS: '0' },
  audit: { AUDIT_CHECKPOINT_EVERY: '200' },
};

export class ServiceSupervisor {
  private readonly instances: ServiceInstance[] = [];
  private readonly started = new Map<ServiceName, number>();
  private readonly logs = new Map<ServiceName, WriteStream>();

  constructor(
    private readonly stack: ChaosStack,
    private readonly databases: Record<ServiceName, ServiceDatabase>,
    private readonly logDir: string,
  ) {}

  /** Every live instance (paused ones included). */
  live(service?: ServiceName): ServiceInstance[] {
    return this.instances.filter(
      (i) => (service === undefined || i.service === service) && isRunning(i.child),
    );
  }

  /** The newest live, running instance: where a load balancer sends traffic (none: undefined). */
  serving(service: ServiceName): string | undefined {
    const serving = this.live(service).filter((i) => !i.paused);
    return serving[serving.length - 1]?.url;
  }

  url(service: ServiceName): string {
    const url = this.serving(service);
    if (url === undefined) throw new Error(`no running instance of ${service}`);
    return url;
  }

  /** Starts one more instance of `service` and waits until /readyz answers 200. */
  async start(service: ServiceName, waitReady = true): Promise<ServiceInstance> {
    const number = (this.started.get(service) ?? 0) + 1;
    this.started.set(service, number);
    const port = await freeChaosPort(this.stack.takenPorts);
    const database = this.databases[service];
    const adminUrl = this.stack.endpoints.databaseUrl;
    const roleUrls = Object.fromEntries(
      loginRoles([database]).map((role) => [
        databaseUrlVariable(role),
        urlForRole(adminUrl, role, developmentPassword(role)),
      ]),
    );
    const child = spawn(
      process.execPath,
      [
        '--max-semi-space-size=64',
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'services', service, 'src', 'main.ts'),
      ],
      {
        cwd: REPO_ROOT,
        env: {
          ...withoutStackVariables(process.env),
          LEDGERLINE_HOME: this.stack.home,
          LEDGERLINE_ENV: 'development',
          LOG_LEVEL: 'warn',
          KAFKA_BROKERS: this.stack.endpoints.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: this.stack.endpoints.schemaRegistryUrl,
          LEDGERLINE_TOPIC_PREFIX: '',
          ...roleUrls,
          [`${service.toUpperCase()}_PORT`]: String(port),
          ...SERVICE_SETTINGS[service],
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const log = await this.logOf(service);
    const tag = Buffer.from(`--- ${service}#${number} pid ${child.pid ?? '?'} started\n`);
    log.write(tag);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const instance: ServiceInstance = {
      service,
      id: `${service}#${number}`,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid ?? 0,
      paused: false,
      child,
    };
    this.instances.push(instance);
    if (waitReady) await this.waitReady(instance);
    return instance;
  }

  private async logOf(service: ServiceName): Promise<WriteStream> {
    const existing = this.logs.get(service);
    if (existing) return existing;
    await mkdir(this.logDir, { recursive: true });
    const stream = createWriteStream(path.join(this.logDir, `${service}.log`), { flags: 'a' });
    this.logs.set(service, stream);
    return stream;
  }

  async waitReady(instance: ServiceInstance, timeoutMs = READY_WAIT_MS_MAX): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isRunning(instance.child)) {
        throw new Error(`${instance.id} exited during start-up; see ${this.logDir}`);
      }
      if ((await readiness(instance.url)) === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `${instance.id} was not ready within ${timeoutMs / 1000} s; see ${this.logDir}`,
    );
  }

  /** SIGKILL: no shutdown hook runs, whatever was in flight is cut. */
  async kill(instance: ServiceInstance): Promise<void> {
    await signalAndWait(instance.child, 'SIGKILL', STOP_WAIT_MS_MAX);
  }

  pause(instance: ServiceInstance): void {
    instance.child.kill('SIGSTOP');
    instance.paused = true;
  }

  resume(instance: ServiceInstance): void {
    instance.child.kill('SIGCONT');
    instance.paused = false;
  }

  /** SIGTERM, the graceful stop; SIGKILL when it does not end within the bound. */
  async stop(instance: ServiceInstance): Promise<void> {
    if (instance.paused) this.resume(instance);
    await signalAndWait(instance.child, 'SIGTERM', STOP_WAIT_MS_MAX);
  }

  /** Stops every instance (newest first: the observers last would keep nothing useful). */
  async stopAll(): Promise<void> {
    for (const instance of [...this.live()].reverse()) await this.stop(instance);
    for (const stream of this.logs.values()) stream.end();
  }

  /** Each live running instance that does not answer /readyz with 200, with what it said. */
  async notReady(): Promise<string[]> {
    const running = this.live().filter((i) => !i.paused);
    const answers = await Promise.all(
      running.map(async (i) => ({ id: i.id, ...(await readinessBody(i.url)) })),
    );
    return answers.filter((a) => a.status !== 200).map((a) => `${a.id} ${a.status} ${a.body}`);
  }

  /** /readyz of every live running instance: 200 everywhere means the platform says ready. */
  async allReady(): Promise<boolean> {
    const running = this.live().filter((i) => !i.paused);
    if (running.length === 0) return false;
    const statuses = await Promise.all(running.map((i) => readiness(i.url)));
    return statuses.every((s) => s === 200);
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function signalAndWait(
  child: ChildProcess,
  signal: NodeJS.Signals,
  waitMs: number,
): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
  await exited;
  clearTimeout(timer);
}

/** What /readyz answers (status 0 when it does not answer), the body cut short. */
async function readinessBody(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(`${url}/readyz`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return { status: response.status, body: (await response.text()).slice(0, 1_000) };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/** The status /readyz answers, 0 when it does not answer. */
export async function readiness(url: string): Promise<number> {
  return (await readinessBody(url)).status;
}
