#!/usr/bin/env node
// `npm test`: lint, typecheck, codegen drift, contract compatibility, then every test against
// the real stack, stopping at the first failure. Extra arguments go to Jest
// (`npm test -- services/ledger`).
//
// Each step runs in a process group of its own, and this script passes SIGINT and SIGTERM on
// to that whole group: Ctrl-C in a terminal and a supervisor's SIGTERM to `npm test` alone
// stop the running step and everything under it (a shell between npm and its command does not
// pass SIGTERM on; a group signal needs no passing on). Processes that detach on purpose (the
// stack) are stopped by the test run's own handler (test/global-setup.mjs).
import { spawn } from 'node:child_process';

const STEPS = ['lint', 'typecheck', 'codegen:check', 'contracts:check', 'test:jest'];
const jestArgs = process.argv.slice(2);

let running;
let interruptedBy;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interruptedBy ??= signal;
    if (running?.pid !== undefined) {
      try {
        process.kill(-running.pid, signal);
      } catch {
        // the step has just ended
      }
    }
  });
}

function runStep(step) {
  const args = [
    'run',
    step,
    ...(step === 'test:jest' && jestArgs.length > 0 ? ['--', ...jestArgs] : []),
  ];
  return new Promise((resolve) => {
    running = spawn('npm', args, { stdio: 'inherit', detached: true });
    running.once('error', (error) => {
      process.stderr.write(`npm test: could not run npm ${args.join(' ')}: ${error.message}\n`);
      resolve(1);
    });
    running.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

for (const step of STEPS) {
  const exitCode = await runStep(step);
  if (interruptedBy) {
    process.stderr.write(`npm test: interrupted (${interruptedBy}) during ${step}\n`);
    process.exit(interruptedBy === 'SIGINT' ? 130 : 143);
  }
  if (exitCode !== 0) process.exit(exitCode);
}
