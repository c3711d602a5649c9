// `npm run demo` runs against a running `npm start`. Without one, or with arguments it does not
// take, it says what to do in one line and sends nothing (it used to print "fetch failed", and
// to ignore arguments).
import net from 'node:net';
import { runScript } from '@ledgerline/testkit/run-script';

async function demo(args: readonly string[], env: Record<string, string>) {
  const run = await runScript('scripts/demo.ts', args, { env });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A loopback port nothing listens on (taken and released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('without a platform to talk to, the demo names the service and how to start it', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const answer = await demo([], {
    PROCESSOR_URL: url,
    LEDGER_URL: url,
    LEDGERLINE_API_KEY: `llk_${'0'.repeat(16)}_${'A'.repeat(43)}`,
  });
  expect(answer.status).toBe(1);
  expect(answer.output).toContain(
    `the processor does not answer at ${url}: start the platform with \`npm start\``,
  );
  expect(answer.output).not.toContain('fetch failed');
}, 70_000);

test('the demo takes no arguments and says what configures it', async () => {
  const answer = await demo(['--payments', '10'], {});
  expect(answer.status).toBe(2);
  expect(answer.output).toContain('demo takes no arguments, got --payments 10');
  expect(answer.output).toContain('DEMO_PAYMENTS');
  expect(answer.output).not.toContain('processor http://');
}, 70_000);
