// `npm run chaos` with a command line it cannot run with: one line saying why, the usage, exit 2,
// and nothing started (no stack, no services).
import { runScript } from '@ledgerline/testkit/run-script';

const chaos = (args: readonly string[]) => runScript('chaos/src/cli.ts', args);

test.each([
  [['--sed', '7'], "chaos: Unknown option '--sed'"],
  [['--seed', 'abc'], "chaos: --seed must be an integer between 0 and 4294967295, got 'abc'"],
  [['--rate', '0'], 'chaos: --rate must be an integer 1..500 payments/s'],
  [['--scenario', 'nope'], "chaos: unknown scenario 'nope'"],
])(
  'npm run chaos -- %j says why it cannot run, with the usage and no stack',
  async (args, said) => {
    const answer = await chaos(args);
    expect(answer.status).toBe(2);
    expect(answer.stderr.startsWith(said)).toBe(true);
    expect(answer.stderr).toContain('usage: npm run chaos -- [--seed n]');
    expect(answer.stderr).not.toMatch(/^\s+at /m);
    expect(answer.stderr).not.toContain('chaos: seed');
  },
  70_000,
);
