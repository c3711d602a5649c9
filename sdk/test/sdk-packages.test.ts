// @ledgerline/client and @ledgerline/events as another team gets them: packed tarballs
// installed offline into a scratch project with nothing of this repository, the README's
// examples compiled against the packages' .d.ts and run with plain node against a running
// ledger and processor on the shared stack.
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import {
  fundAccount,
  openCustomerAccount,
  startPlatform,
  waitForPayment,
  hasStatus,
  type InProcessPlatform,
} from '@ledgerline/testkit/platform';
import { sdkVersion } from '../build.js';
import {
  CHILD_TIMEOUT_MS,
  compileScratch,
  createScratchProject,
  readmeExamples,
  ROOT,
  runScratch,
  type ScratchProject,
} from './support.js';

const run = promisify(execFile);

interface DecodedLine {
  paymentId: string;
  to: string;
  amountMinor: number;
  at: string;
}

let platform: InProcessPlatform;
let scratch: ScratchProject;
let examples: Map<string, string>;
const payerAccountId = randomUUID();
const payeeAccountId = randomUUID();

beforeAll(async () => {
  examples = await readmeExamples();
  const [project, started] = await Promise.all([
    createScratchProject(examples.get('install.sh') ?? 'false'),
    startPlatform('sdk-packages'),
  ]);
  scratch = project;
  platform = started;
  for (const name of ['call.ts', 'consume.ts']) {
    await writeFile(path.join(scratch.dir, name), examples.get(name) ?? '');
  }
  await compileScratch(scratch.dir);
  await openCustomerAccount(platform.ledgerApi, payerAccountId, 'sdk-payer');
  await openCustomerAccount(platform.ledgerApi, payeeAccountId, 'sdk-payee');
  await fundAccount(platform.ledgerApi, payerAccountId, 100_000, randomUUID());
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  for (const dir of [scratch?.dir, scratch?.sdkDir]) {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
});

function callEnv(): Record<string, string> {
  return {
    PROCESSOR_URL: platform.processor.url,
    API_KEY: platform.operatorKey,
    PAYER_ACCOUNT_ID: payerAccountId,
    PAYEE_ACCOUNT_ID: payeeAccountId,
  };
}

describe('the packed SDK in a scratch project', () => {
  it('holds only the two tarballs and the Kafka client the consumer brings', async () => {
    expect(examples.size).toBeGreaterThanOrEqual(4);
    const installed = await readdir(path.join(scratch.dir, 'node_modules'));
    expect(installed.filter((n) => !n.startsWith('.')).sort()).toEqual(['@ledgerline', 'kafkajs']);
    const ours = await readdir(path.join(scratch.dir, 'node_modules/@ledgerline'));
    expect(ours.sort()).toEqual(['client', 'events']);
    for (const pkg of scratch.packages) {
      const manifest = JSON.parse(
        await readFile(path.join(scratch.dir, 'node_modules', pkg.name, 'package.json'), 'utf8'),
      ) as { version: string; engines: { node: string }; type: string };
      expect(manifest).toMatchObject({
        version: await sdkVersion(),
        engines: { node: '>=20' },
        type: 'module',
      });
    }
  });

  it('bundles the client for a browser with no Node built-in in it', async () => {
    const bundle = await build({
      stdin: {
        contents:
          "import { createProcessorClient } from '@ledgerline/client';\nexport const make = () => createProcessorClient('https://api.example');",
        resolveDir: scratch.dir,
        loader: 'js',
      },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(bundle.errors).toEqual([]);
    expect(bundle.outputFiles[0]!.text).toContain('idempotency-key');
  });

  it('pays, settles to COMPLETED, refunds, lists page by page and gets bad input as a typed problem', async () => {
    const lines = await runScratch(scratch.dir, 'call.js', callEnv());
    const result = JSON.parse(lines[lines.length - 1]!) as {
      paymentId: string;
      status: string;
      refundId: string;
      listed: string[];
      problem: { status: number; type: string; pointers: string[] };
    };
    expect(result.status).toBe('COMPLETED');
    expect(result.listed).toContain(result.paymentId);
    expect(new Set(result.listed).size).toBe(result.listed.length);
    expect(result.problem.status).toBe(400);
    expect(result.problem.pointers).toContain('/amountMinor');
    // The refund the script asked for really settles: 2.50 of 12.50 back to the payer.
    const settled = await waitForPayment(
      platform.processorApi,
      result.paymentId,
      hasStatus('PARTIALLY_REFUNDED'),
    );
    expect(settled).toMatchObject({ amountMinor: 1250, refundedMinor: 250 });
  }, 120_000);

  it('consumes payments.status-changed and decodes every transition with its types', async () => {
    const paid = await runScratch(scratch.dir, 'call.js', callEnv());
    const { paymentId } = JSON.parse(paid[paid.length - 1]!) as { paymentId: string };
    const lines = await runScratch(
      scratch.dir,
      'consume.js',
      {
        SCHEMA_REGISTRY_URL: platform.env.schemaRegistryUrl,
        KAFKA_BROKERS: platform.env.kafkaBrokers.join(','),
        TOPIC_PREFIX: platform.env.topicPrefix,
        WATCH_PAYMENT_ID: paymentId,
      },
      60_000,
    );
    // kafkajs logs JSON lines to stdout too; the example's own lines name the payment.
    const events = lines
      .map((line) => JSON.parse(line) as Partial<DecodedLine>)
      .filter((line): line is DecodedLine => line.paymentId !== undefined);
    const transitions = events.map((e) => e.to);
    // The script stops at COMPLETED; the refund's transition may be read before it stops.
    expect(transitions.slice(0, 3)).toEqual(['PENDING', 'DEBITED', 'COMPLETED']);
    expect(transitions.slice(3).every((to) => to === 'PARTIALLY_REFUNDED')).toBe(true);
    for (const event of events) {
      expect(event).toMatchObject({ paymentId, amountMinor: 1250 });
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    }
  }, 120_000);

  it('refuses at compile time a payment whose amount is not integer minor units', async () => {
    await writeFile(
      path.join(scratch.dir, 'wrong.ts'),
      [
        "import { createProcessorClient } from '@ledgerline/client';",
        "const processor = createProcessorClient('http://localhost:1');",
        "await processor.POST('/v1/payments', {",
        "  body: { payerAccountId: 'a', payeeAccountId: 'b', amountMinor: '12.50', currency: 'EUR' },",
        '});',
        '',
      ].join('\n'),
    );
    const error = await compileScratch(scratch.dir).then(
      () => undefined,
      (e: { stdout: string }) => e,
    );
    await writeFile(path.join(scratch.dir, 'wrong.ts'), 'export {};\n');
    expect(error?.stdout).toMatch(
      /wrong\.ts.*amountMinor|wrong\.ts[\s\S]*'string' is not assignable to type 'number'/,
    );
  }, 120_000);

  it("checks a service's copy of a schema against the registry with the CI example", async () => {
    const released = JSON.parse(
      await readFile(
        path.join(ROOT, 'contracts/released/subjects/payments.status-changed-value.json'),
        'utf8',
      ),
    ) as { versions: unknown[] };
    const schemaFile = path.join(scratch.dir, 'PaymentStatusChanged.avsc');
    await writeFile(schemaFile, JSON.stringify(released.versions[released.versions.length - 1]));
    const { stdout } = await run('sh', ['-c', examples.get('check.sh') ?? 'false'], {
      cwd: ROOT,
      timeout: CHILD_TIMEOUT_MS,
      env: {
        ...process.env,
        SCHEMA_REGISTRY_URL: platform.env.schemaRegistryUrl,
        SCHEMA_FILE: schemaFile,
      },
    });
    expect(stdout).toMatch(/compatible/i);
  }, 120_000);
});
