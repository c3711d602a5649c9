// npx tsx stack/src/cli.ts <start|stop|status>
// start returns once every component answers; the processes keep running after it exits.
import { StackError } from './errors.js';
import { stackStatus, startStack, stopStack, type StackStatus } from './index.js';

const USAGE = 'usage: tsx stack/src/cli.ts <start|stop|status>';

function progress(message: string): void {
  process.stderr.write(`stack: ${message}\n`);
}

function printStatus(status: StackStatus): void {
  const lines = [`home ${status.home}`];
  for (const component of status.components) {
    const pid = component.pid === undefined ? '' : ` pid ${component.pid}`;
    const log =
      component.logFile && component.state !== 'external' ? `  log ${component.logFile}` : '';
    lines.push(
      `${component.name.padEnd(9)}${component.state.padEnd(10)}${component.endpoint}${pid}${log}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'start': {
      const startedAtMs = Date.now();
      const stack = await startStack({ log: progress });
      const elapsedS = ((Date.now() - startedAtMs) / 1000).toFixed(1);
      const what =
        stack.startedComponents.length === 0
          ? 'already running'
          : `started ${stack.startedComponents.join(', ')}`;
      progress(`ready in ${elapsedS} s (${what})`);
      process.stdout.write(
        [
          `KAFKA_BROKERS=${stack.kafkaBrokers.join(',')}`,
          `SCHEMA_REGISTRY_URL=${stack.schemaRegistryUrl}`,
          `DATABASE_URL=${stack.databaseUrl}`,
          '',
        ].join('\n'),
      );
      printStatus(await stackStatus());
      return 0;
    }
    case 'stop': {
      const stopped = await stopStack({ log: progress });
      const what =
        stopped.stoppedComponents.length === 0 && stopped.strayPids.length === 0
          ? 'nothing was running'
          : `stopped ${[...stopped.stoppedComponents, ...stopped.strayPids.map((p) => `pid ${p}`)].join(', ')}`;
      process.stdout.write(`${what} (home ${stopped.home})\n`);
      return 0;
    }
    case 'status': {
      const status = await stackStatus();
      printStatus(status);
      return status.up ? 0 : 3;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv[2]).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    // Expected failures are one line naming what is missing and where to look.
    if (error instanceof StackError) {
      process.stderr.write(`stack: ${error.message}\n`);
    } else {
      process.stderr.write(
        `stack: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`,
      );
    }
    process.exitCode = 1;
  },
);
