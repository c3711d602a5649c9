// Ctrl-C (SIGINT to the terminal's process group) or SIGTERM (to the npm process alone, as a
// supervisor sends it) at any instant of `npm start` or `npm test` stops everything that
// command started: the detached stack processes, the services, the test workers. Each case
// runs the real command against an isolated stack home and ports, interrupts it at one point
// of start-up, and then looks for any process of that home or of the command's process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { isAlive, processTree, stackProcesses } from '../../stack/src/process.js';
import { REPO_ROOT } from '../../stack/src/paths.js';
import { freePort, isolatedStack, type IsolatedStack } from '../../stack/test/support.js';

const EXIT_BOUND_MS = 60_000;
const START_BOUND_MS = 240_000;

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | string>;
}

/** Runs `npm <args>` in a process group of its own, as a terminal runs a foreground job. */
function runNpm(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn('npm', args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? 'unknown')),
  );
  return { child, output: () => output, exited };
}

async function waitForOutput(running: Running, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + START_BOUND_MS;
  while (!pattern.test(running.output())) {
    if (running.child.exitCode !== null) {
      throw new Error(`exited before ${pattern}:\n${running.output().slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${START_BOUND_MS} ms`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

async function exitWithin(running: Running, boundMs: number): Promise<number | string> {
  const timeout = new Promise<string>((resolveTimeout) =>
    setTimeout(() => resolveTimeout('still running'), boundMs).unref(),
  );
  return Promise.race([running.exited, timeout]);
}

/**
 * Processes of the isolated home, of the command's group, or of its tree as it was when it was
 * interrupted (steps in groups of their own), after a short settling bound.
 */
async function leftovers(home: string, running: Running, before: number[]): Promise<number[]> {
  const groupId = running.child.pid as number;
  const find = () => [
    ...new Set([
      ...stackProcesses(`${home}/`).map((p) => p.pid),
      ...processTree(groupId),
      ...before.filter(isAlive),
    ]),
  ];
  const deadline = Date.now() + 15_000;
  while (find().length > 0 && Date.now() < deadline) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  return find();
}

async function startEnv(stack: IsolatedStack): Promise<NodeJS.ProcessEnv> {
  const taken = new Set(Object.values(stack.ports));
  return {
    ...stack.env,
    LEDGER_PORT: String(await freePort(taken)),
    PROCESSOR_PORT: String(await freePort(taken)),
    RECONCILIATION_PORT: String(await freePort(taken)),
    AUDIT_PORT: String(await freePort(taken)),
    LOG_LEVEL: 'warn',
  };
}

/** Interrupts the command; returns its process tree as it was at that instant. */
function interrupt(running: Running, how: 'Ctrl-C' | 'SIGTERM'): number[] {
  const pid = running.child.pid as number;
  const tree = processTree(pid);
  if (how === 'Ctrl-C') process.kill(-pid, 'SIGINT');
  else process.kill(pid, 'SIGTERM');
  return tree;
}

describe('npm start, interrupted during start-up', () => {
  const stacks: IsolatedStack[] = [];
  afterAll(async () => {
    for (const stack of stacks) await stack.remove();
  });

  test.each([
    ['Ctrl-C', 'while PostgreSQL is starting', /\[stack\] postgres: started pid/],
    ['SIGTERM', 'while Kafka and the registry are starting', /\[stack\] kafka: started pid/],
    ['Ctrl-C', 'once the services are up', /Ledgerline is up/],
  ] as const)(
    '%s %s stops everything it started',
    async (how, _when, point) => {
      const stack = await isolatedStack();
      stacks.push(stack);
      const running = runNpm(['start'], await startEnv(stack));
      await waitForOutput(running, point);
      const tree = interrupt(running, how);
      const exit = await exitWithin(running, EXIT_BOUND_MS);
      expect(exit).not.toBe('still running');
      const left = await leftovers(stack.home, running, tree);
      // The command's own output says what it stopped: show it when something was left.
      expect({ left, output: left.length > 0 ? running.output().slice(-4000) : '' }).toEqual({
        left: [],
        output: '',
      });
    },
    START_BOUND_MS + EXIT_BOUND_MS + 30_000,
  );
});

describe('npm test, interrupted', () => {
  let stack: IsolatedStack;
  beforeAll(async () => {
    stack = await isolatedStack();
  });
  afterAll(async () => {
    await stack.remove();
  });

  test(
    'Ctrl-C while its global setup starts the stack stops the stack and the workers',
    async () => {
      const running = runNpm(
        ['run', 'test:jest', '--', '--maxWorkers=1', 'scripts/test/ensure-installed.test.ts'],
        stack.env,
      );
      await waitForOutput(running, /\[stack\] (kafka|registry): started pid/);
      const tree = interrupt(running, 'Ctrl-C');
      const exit = await exitWithin(running, EXIT_BOUND_MS);
      expect(exit).not.toBe('still running');
      expect(running.output()).toContain('npm test: SIGINT received');
      const left = await leftovers(stack.home, running, tree);
      // The command's own output says what it stopped: show it when something was left.
      expect({ left, output: left.length > 0 ? running.output().slice(-4000) : '' }).toEqual({
        left: [],
        output: '',
      });
    },
    START_BOUND_MS + EXIT_BOUND_MS + 30_000,
  );

  test(
    'SIGTERM to npm test alone during lint stops the step that runs',
    async () => {
      const running = runNpm(['test'], stack.env);
      await waitForOutput(running, /> eslint \. && prettier --check \./);
      const tree = interrupt(running, 'SIGTERM');
      const exit = await exitWithin(running, EXIT_BOUND_MS);
      expect(exit).not.toBe('still running');
      expect(running.output()).toContain('npm test: interrupted (SIGTERM) during lint');
      const left = await leftovers(stack.home, running, tree);
      // The command's own output says what it stopped: show it when something was left.
      expect({ left, output: left.length > 0 ? running.output().slice(-4000) : '' }).toEqual({
        left: [],
        output: '',
      });
    },
    EXIT_BOUND_MS + 60_000,
  );
});
