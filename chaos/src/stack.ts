// The chaos suite's own stack: Kafka, the registry and PostgreSQL under a fresh LEDGERLINE_HOME
// with their own ports (the launcher of stack/src, as stack/test/support.ts uses it), because
// the suite kills the broker and the database. The shared stack is never touched.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveStackConfig, startStack, stopStack, type StackConfig } from '@ledgerline/stack';
import { kafkaPid } from '@ledgerline/stack/kafka';
import { postgresPid } from '@ledgerline/stack/postgres';
import { isAlive, isPortOpen } from '@ledgerline/stack/process';
import { registryPid, stopRegistry } from '@ledgerline/stack/registry';

export interface ChaosStackEndpoints {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** The admin's URL of the platform database (the deploy step connects with it). */
  databaseUrl: string;
}

// Below the kernel's ephemeral range (32768+), so no outgoing connection takes a port between
// this check and the component binding it.
const PORT_MIN = 20_000;
const PORT_SPAN = 12_000;
const PORT_ATTEMPTS_MAX = 200;
/** A killed process is gone well within this. */
const EXIT_WAIT_MS_MAX = 30_000;

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.once('error', () => resolveBind(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveBind(true)));
  });
}

export async function freeChaosPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS_MAX; attempt += 1) {
    const port = PORT_MIN + Math.floor(Math.random() * PORT_SPAN);
    if (!taken.has(port) && (await canBind(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${PORT_ATTEMPTS_MAX} attempts`);
}

/** Until the process is gone and nothing listens on its port any more (the restart binds it). */
async function waitGone(pid: number, port: number, what: string): Promise<void> {
  const deadline = Date.now() + EXIT_WAIT_MS_MAX;
  while (isAlive(pid) || (await isPortOpen('127.0.0.1', port, 200))) {
    if (Date.now() > deadline) throw new Error(`${what} (pid ${pid}) did not exit`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The home of a stack being started, for abortStarting(). */
let startingHome: { home: string; env: NodeJS.ProcessEnv } | null = null;

export class ChaosStack {
  private constructor(
    readonly home: string,
    readonly env: NodeJS.ProcessEnv,
    readonly endpoints: ChaosStackEndpoints,
    /** Ports the suite hands out to services, so none collides with the stack's. */
    readonly takenPorts: Set<number>,
    private readonly log: (line: string) => void,
  ) {}

  private get config(): StackConfig {
    return resolveStackConfig(this.env);
  }

  /**
   * Stops a stack whose start is still under way (Ctrl-C before start() answered) and deletes
   * its home: nothing the suite launched outlives it.
   */
  static async abortStarting(): Promise<void> {
    const starting = startingHome;
    if (starting === null) return;
    await stopStack({ env: starting.env }).catch(() => undefined);
    await rm(starting.home, { recursive: true, force: true });
  }

  /** A fresh home under the temp dir and free ports; starts all three components. */
  static async start(log: (line: string) => void): Promise<ChaosStack> {
    const home = await mkdtemp(path.join(tmpdir(), 'ledgerline-chaos-'));
    // mkdtemp makes it 0700; the postgres OS user (a root launcher) must pass through it.
    await chmod(home, 0o755);
    const taken = new Set<number>();
    const env: NodeJS.ProcessEnv = { ...withoutStackVariables(process.env) };
    env['LEDGERLINE_HOME'] = home;
    env['LEDGERLINE_KAFKA_PORT'] = String(await freeChaosPort(taken));
    env['LEDGERLINE_KAFKA_CONTROLLER_PORT'] = String(await freeChaosPort(taken));
    env['LEDGERLINE_REGISTRY_PORT'] = String(await freeChaosPort(taken));
    env['LEDGERLINE_REGISTRY_MANAGEMENT_PORT'] = String(await freeChaosPort(taken));
    env['LEDGERLINE_POSTGRES_PORT'] = String(await freeChaosPort(taken));
    const prefixed = (line: string) => log(`[chaos stack] ${line}`);
    startingHome = { home, env };
    try {
      const started = await startStack({ env, log: prefixed });
      return new ChaosStack(
        home,
        env,
        {
          kafkaBrokers: started.kafkaBrokers,
          schemaRegistryUrl: started.schemaRegistryUrl,
          databaseUrl: started.databaseUrl,
        },
        taken,
        prefixed,
      );
    } catch (error) {
      await stopStack({ env }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
      throw error;
    } finally {
      startingHome = null;
    }
  }

  /** Starts whatever component is down (the launcher's start is idempotent). */
  async heal(): Promise<void> {
    await startStack({ env: this.env, log: this.log });
  }

  /** SIGKILL of the broker: no controlled shutdown, log recovery on the next start. */
  async killKafka(): Promise<void> {
    const pid = await kafkaPid(this.config);
    if (pid === undefined) throw new Error('the chaos Kafka is not running');
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, this.config.ports.kafka, 'Kafka');
  }

  /** PostgreSQL's immediate shutdown (SIGQUIT to the postmaster): crash recovery on restart. */
  async crashPostgres(): Promise<void> {
    const pid = await postgresPid(this.config);
    if (pid === undefined) throw new Error('the chaos PostgreSQL is not running');
    process.kill(pid, 'SIGQUIT');
    await waitGone(pid, this.config.ports.postgres, 'PostgreSQL');
  }

  /** The registry stopped (as a deploy or an outage would); heal() starts it again. */
  async stopRegistry(): Promise<void> {
    const pid = await registryPid(this.config);
    if (pid === undefined) throw new Error('the chaos registry is not running');
    await stopRegistry(this.config);
  }

  /** Stops every component of this stack and deletes its home. */
  async remove(): Promise<void> {
    await stopStack({ env: this.env, log: this.log }).catch((error: unknown) =>
      this.log(`could not stop the chaos stack: ${String(error)}`),
    );
    await rm(this.home, { recursive: true, force: true });
  }
}

/** The caller's environment without anything that would redirect the stack elsewhere. */
export function withoutStackVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) {
    // The download cache stays shared; the run chain lets an interrupted npm test stop us.
    const kept = name === 'LEDGERLINE_CACHE' || name === 'LEDGERLINE_RUN_CHAIN';
    if (name.startsWith('LEDGERLINE_') && !kept) delete copy[name];
    if (name.endsWith('_DATABASE_URL')) delete copy[name];
  }
  delete copy['KAFKA_BROKERS'];
  delete copy['SCHEMA_REGISTRY_URL'];
  delete copy['DATABASE_URL'];
  return copy;
}
