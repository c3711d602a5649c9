// The pact matrix: who must have a pact with whom, derived from the contracts rather than from
// the pacts themselves, so that a new topic consumer or a new generated-client call without a
// pact shows up as a gap. Expected pairs come from contracts/topics.yaml (every consumer x every
// producer of a topic, except a service with itself) and from `create<Service>Client(` calls in
// services/*/src and in the console. Each pair's interactions come from pacts/, and whether they
// are verified at this commit from pacts/verifications/<provider>.json, whose pact and
// provider-code hashes must match the working tree.
//
//   npm run pact:matrix              # print the matrix; exit 1 naming every gap
//   npm run pact:matrix -- --verify  # first re-verify providers whose records are stale
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadContracts } from '@ledgerline/codegen/generate';
import { loadPacts, providerHash, ROOT, VERIFICATION_DIR, type LoadedPact } from './files.js';
import { operationOf } from './operations.js';
import type { ProviderDefinition, ProviderVerification } from './verify.js';

export interface ExpectedMessage {
  readonly consumer: string;
  readonly provider: string;
  readonly topic: string;
}

export interface ExpectedHttp {
  readonly consumer: string;
  readonly provider: string;
  /** Where the consumer constructs the generated client (file:line). */
  readonly uses: string[];
  /** The operations it calls through the client (`.<provider>.GET('/v1/…'`), with where. */
  readonly calls: { method: string; path: string; use: string }[];
}

export interface MatrixRow {
  readonly consumer: string;
  readonly provider: string;
  readonly kind: 'message' | 'http';
  /** Topic, or "HTTP" for a pair's HTTP interactions. */
  readonly channel: string;
  readonly interactions: number;
  readonly verified: 'yes' | 'no' | 'stale' | 'never' | 'none' | '-';
}

export interface Matrix {
  readonly rows: MatrixRow[];
  /** One sentence per problem, naming the pair and the topic, client call or interaction. */
  readonly gaps: string[];
  /** Same-service topics (a service consuming its own topic): no pact, listed for the record. */
  readonly internal: string[];
  /** Providers whose recorded verification is missing or stale. */
  readonly staleProviders: string[];
}

/** Every consumer x producer x topic that topics.yaml declares, except a service with itself. */
export async function expectedMessages(): Promise<{
  expected: ExpectedMessage[];
  internal: string[];
}> {
  const contracts = await loadContracts(path.join(ROOT, 'contracts'));
  const expected: ExpectedMessage[] = [];
  const internal: string[] = [];
  for (const topic of contracts.topics) {
    for (const consumer of topic.consumers) {
      for (const provider of topic.producers) {
        if (consumer === provider) internal.push(`${consumer} <- ${provider}: ${topic.name}`);
        else expected.push({ consumer, provider, topic: topic.name });
      }
    }
  }
  return { expected, internal };
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (/\.tsx?$/.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * Where each consumer's source lives: every service, and the operator console (its server and
 * its app, which call the services through the generated clients).
 */
function consumerSources(): { consumer: string; dirs: string[] }[] {
  const servicesDir = path.join(ROOT, 'services');
  return [
    ...readdirSync(servicesDir).map((service) => ({
      consumer: service,
      dirs: [path.join(servicesDir, service, 'src')],
    })),
    {
      consumer: 'console',
      dirs: [path.join(ROOT, 'console', 'src'), path.join(ROOT, 'console', 'web')],
    },
  ];
}

/** Generated OpenAPI clients the consumers really construct: `create<Service>Client(`. */
export function expectedHttp(): ExpectedHttp[] {
  const byPair = new Map<string, ExpectedHttp>();
  const pair = (consumer: string, provider: string) => {
    const key = `${consumer}|${provider}`;
    const entry = byPair.get(key) ?? { consumer, provider, uses: [], calls: [] };
    byPair.set(key, entry);
    return entry;
  };
  const calls: { consumer: string; provider: string; method: string; path: string; use: string }[] =
    [];
  for (const { consumer, dirs } of consumerSources()) {
    for (const file of dirs.flatMap((dir) => sourceFiles(dir))) {
      const text = readFileSync(file, 'utf8');
      const where = (index: number) =>
        `${path.relative(ROOT, file)}:${text.slice(0, index).split('\n').length}`;
      for (const match of text.matchAll(/\bcreate([A-Z][A-Za-z]*)Client\(/g)) {
        const provider = match[1]!.charAt(0).toLowerCase() + match[1]!.slice(1);
        if (provider !== consumer) pair(consumer, provider).uses.push(where(match.index));
      }
      // A call through a client held under the service's name: `api.ledger.GET('/v1/…'`.
      for (const match of text.matchAll(
        /\.(processor|ledger|reconciliation|audit)\s*\.\s*(GET|POST|PUT|PATCH|DELETE)\(\s*'([^']+)'/g,
      )) {
        const [, provider, method, callPath] = match;
        if (provider !== consumer) {
          calls.push({
            consumer,
            provider: provider!,
            method: method!,
            path: callPath!,
            use: where(match.index),
          });
        }
      }
    }
  }
  for (const call of calls) {
    const entry = byPair.get(`${call.consumer}|${call.provider}`);
    entry?.calls.push({ method: call.method, path: call.path, use: call.use });
  }
  return [...byPair.values()];
}

export function loadVerification(provider: string): ProviderVerification | undefined {
  const file = path.join(VERIFICATION_DIR, `${provider}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ProviderVerification;
}

interface Interaction {
  readonly pact: LoadedPact;
  readonly description: string;
  readonly channel: string;
}

function interactionsOf(loaded: LoadedPact): Interaction[] {
  return [
    ...(loaded.pact.messages ?? []).map((msg) => ({
      pact: loaded,
      description: msg.description,
      channel: String(msg.metadata?.['topic'] ?? '(no topic)'),
    })),
    ...(loaded.pact.interactions ?? []).map((http) => ({
      pact: loaded,
      description: http.description,
      channel: 'HTTP',
    })),
  ];
}

/** The matrix of the working tree (`pactDir`: another directory of pacts, in tests). */
export async function computeMatrix(options: { pactDir?: string } = {}): Promise<Matrix> {
  const { expected, internal } = await expectedMessages();
  const http = expectedHttp();
  const pacts = loadPacts(options.pactDir);
  const gaps: string[] = [];
  const rows: MatrixRow[] = [];
  const staleProviders = new Set<string>();

  const pairs = new Map<string, { consumer: string; provider: string }>();
  for (const e of [...expected, ...http]) pairs.set(`${e.consumer}|${e.provider}`, e);
  for (const p of pacts) {
    const key = `${p.pact.consumer.name}|${p.pact.provider.name}`;
    if (!pairs.has(key)) {
      gaps.push(
        `${p.pact.consumer.name} <- ${p.pact.provider.name}: ${path.basename(p.file)} exists ` +
          'but neither topics.yaml nor a generated client call connects the pair',
      );
    }
  }

  const providerHashes = new Map<string, string>();
  const hashOf = (provider: string) => {
    let hash = providerHashes.get(provider);
    if (hash === undefined) {
      hash = providerHash(provider);
      providerHashes.set(provider, hash);
    }
    return hash;
  };

  /** Verification state of one interaction at this commit, and why not when it is not. */
  const verdict = (interaction: Interaction): { state: MatrixRow['verified']; why: string } => {
    const { consumer, provider } = interaction.pact.pact;
    const record = loadVerification(provider.name);
    const pactRecord = record?.pacts.find((p) => p.consumer === consumer.name);
    if (record === undefined || pactRecord === undefined) {
      staleProviders.add(provider.name);
      return { state: 'never', why: `${provider.name} never verified this pact` };
    }
    if (pactRecord.pactHash !== interaction.pact.hash) {
      staleProviders.add(provider.name);
      return { state: 'stale', why: 'the pact changed since it was verified' };
    }
    if (record.providerHash !== hashOf(provider.name)) {
      staleProviders.add(provider.name);
      return { state: 'stale', why: `${provider.name}'s code changed since it was verified` };
    }
    const result = pactRecord.interactions.find((i) => i.description === interaction.description);
    if (result === undefined) return { state: 'never', why: 'not in the verification record' };
    return result.verified
      ? { state: 'yes', why: '' }
      : { state: 'no', why: result.problems.join('; ') };
  };

  for (const pair of [...pairs.values()].sort((a, b) =>
    `${a.consumer}|${a.provider}`.localeCompare(`${b.consumer}|${b.provider}`),
  )) {
    const loaded = pacts.find(
      (p) => p.pact.consumer.name === pair.consumer && p.pact.provider.name === pair.provider,
    );
    const interactions = loaded ? interactionsOf(loaded) : [];
    const label = `${pair.consumer} <- ${pair.provider}`;
    const topics = expected
      .filter((e) => e.consumer === pair.consumer && e.provider === pair.provider)
      .map((e) => e.topic);
    const channels = new Set([...topics, ...interactions.map((i) => i.channel)]);
    channels.delete('HTTP');
    for (const channel of [...channels].sort()) {
      const inChannel = interactions.filter((i) => i.channel === channel);
      if (!topics.includes(channel)) {
        gaps.push(
          `${label}: the pact has interactions on ${channel}, which topics.yaml does not ` +
            `declare between them (${inChannel.map((i) => `"${i.description}"`).join(', ')})`,
        );
      }
      if (inChannel.length === 0) {
        gaps.push(
          `${label}: ${channel} has no pact interaction (contracts/topics.yaml lists ` +
            `${pair.consumer} as a consumer and ${pair.provider} as a producer); add one to ` +
            `contract-tests/test/${pair.consumer}-${pair.provider}.consumer.test.ts, or take ` +
            `${pair.consumer} off the topic's consumers if it does not read it`,
        );
      }
      const verdicts = inChannel.map((i) => ({ i, v: verdict(i) }));
      for (const { i, v } of verdicts) {
        if (v.state !== 'yes') {
          gaps.push(
            `${label}: interaction "${i.description}" (${channel}) is not verified at this ` +
              `commit: ${v.why}`,
          );
        }
      }
      const worst = (['no', 'never', 'stale'] as const).find((s) =>
        verdicts.some(({ v }) => v.state === s),
      );
      rows.push({
        consumer: pair.consumer,
        provider: pair.provider,
        kind: 'message',
        channel,
        interactions: inChannel.length,
        verified: inChannel.length === 0 ? '-' : (worst ?? 'yes'),
      });
    }
    const httpUse = http.find((h) => h.consumer === pair.consumer && h.provider === pair.provider);
    const httpInteractions = interactions.filter((i) => i.channel === 'HTTP');
    if (httpUse !== undefined && httpInteractions.length === 0) {
      gaps.push(
        `${label}: ${pair.consumer} calls ${pair.provider}'s API through its generated client ` +
          `(${httpUse.uses.join(', ')}) but has no HTTP pact`,
      );
    }
    // Every operation the consumer calls needs an interaction (one of the same operation).
    const stated = new Set(
      (loaded?.pact.interactions ?? []).map(
        (i) => operationOf(pair.provider, i.request.method, i.request.path)?.operation.operationId,
      ),
    );
    for (const call of httpUse?.calls ?? []) {
      const operation = operationOf(pair.provider, call.method, call.path);
      if (operation === undefined) {
        gaps.push(
          `${label}: ${pair.consumer} calls ${call.method} ${call.path} (${call.use}), which is ` +
            `not an operation of ${pair.provider}`,
        );
      } else if (httpInteractions.length > 0 && !stated.has(operation.operation.operationId)) {
        gaps.push(
          `${label}: ${pair.consumer} calls ${call.method} ${call.path} (${call.use}) but its ` +
            `pact has no interaction for ${operation.operation.operationId}`,
        );
      }
    }
    if (httpUse === undefined && httpInteractions.length > 0) {
      gaps.push(`${label}: HTTP pact interactions, but ${pair.consumer} never calls the client`);
    }
    const httpVerdicts = httpInteractions.map((i) => ({ i, v: verdict(i) }));
    for (const { i, v } of httpVerdicts) {
      if (v.state !== 'yes') {
        gaps.push(`${label}: interaction "${i.description}" (HTTP) is not verified: ${v.why}`);
      }
    }
    rows.push({
      consumer: pair.consumer,
      provider: pair.provider,
      kind: 'http',
      channel: 'HTTP',
      interactions: httpInteractions.length,
      verified:
        httpUse === undefined && httpInteractions.length === 0
          ? 'none'
          : httpVerdicts.every(({ v }) => v.state === 'yes') && httpInteractions.length > 0
            ? 'yes'
            : 'no',
    });
  }
  return { rows, gaps, internal, staleProviders: [...staleProviders].sort() };
}

/** Re-verifies (and records) every provider whose recorded verification is stale. */
export async function refreshStale(
  matrix: Matrix,
  providers: ReadonlyMap<string, ProviderDefinition>,
): Promise<string[]> {
  const refreshed: string[] = [];
  for (const name of matrix.staleProviders) {
    const definition = providers.get(name);
    if (definition === undefined) continue;
    const { verifyProvider } = await import('./verify.js');
    await verifyProvider(definition, { record: true });
    refreshed.push(name);
  }
  return refreshed;
}

export function formatMatrix(matrix: Matrix): string {
  const header = ['consumer', 'provider', 'kind', 'topic / API', 'interactions', 'verified'];
  const body = matrix.rows.map((r) => [
    r.consumer,
    r.provider,
    r.kind,
    r.kind === 'http' && r.verified === 'none' ? 'HTTP (no generated client call)' : r.channel,
    String(r.interactions),
    r.verified,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function gitHead(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  let matrix = await computeMatrix();
  if (process.argv.includes('--verify') && matrix.staleProviders.length > 0) {
    // HTTP pacts are verified against running services: the stack first, as npm test has it.
    const httpStale = loadPacts().some(
      (p) =>
        matrix.staleProviders.includes(p.pact.provider.name) &&
        (p.pact.interactions ?? []).length > 0,
    );
    if (httpStale) {
      const { prepareSharedStack } = await import('@ledgerline/testkit/shared-stack');
      await prepareSharedStack((line) => console.log(`[stack] ${line}`));
    }
    const { providers } = await import('./providers/index.js');
    const refreshed = await refreshStale(matrix, providers);
    console.log(`re-verified: ${refreshed.join(', ')}\n`);
    matrix = await computeMatrix();
  }
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'pacts', 'services'], {
    cwd: ROOT,
  })
    .toString()
    .trim();
  console.log(`Pact matrix at ${gitHead()}${dirty ? ' (+ working tree changes)' : ''}\n`);
  console.log(formatMatrix(matrix));
  if (matrix.internal.length > 0) {
    console.log(`\nwithin one service (no pact): ${matrix.internal.join('; ')}`);
  }
  if (matrix.gaps.length > 0) {
    console.log(`\n${matrix.gaps.length} gap(s):`);
    for (const gap of matrix.gaps) console.log(`  - ${gap}`);
    process.exitCode = 1;
  } else {
    console.log('\nno gaps: every declared pair has pacts, every interaction is verified');
  }
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')
) {
  await main();
}
