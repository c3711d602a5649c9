// The Pact Broker, over its HTTP API (no pact-cli needed): publish pacts and the verification
// results recorded at this commit, and fetch the pacts a provider must verify.
//
//   PACT_BROKER_BASE_URL   default http://127.0.0.1:9292 (docker compose --profile pact up -d)
//   PACT_BROKER_USERNAME / PACT_BROKER_PASSWORD   basic auth, when the broker has it
//   PACT_BROKER_BRANCH     default: the current git branch
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, writeFileAtomic, type PactFile } from './files.js';

const TIMEOUT_MS = 10_000;

export function brokerUrl(): string {
  return (process.env['PACT_BROKER_BASE_URL'] ?? 'http://127.0.0.1:9292').replace(/\/$/, '');
}

function headers(): Record<string, string> {
  const out: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/hal+json, application/json',
  };
  const user = process.env['PACT_BROKER_USERNAME'];
  if (user !== undefined) {
    const password = process.env['PACT_BROKER_PASSWORD'] ?? '';
    out['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return out;
}

export async function brokerRequest(
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const target = url.startsWith('http') ? url : `${brokerUrl()}${url}`;
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers: headers(),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `no Pact Broker at ${brokerUrl()} (${cause?.code ?? cause?.message ?? String(error)}): ` +
        'start one with `docker compose --profile pact up -d` or set PACT_BROKER_BASE_URL',
    );
  }
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`Pact Broker ${method} ${url}: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT }).toString().trim();
}

/** The application version pacts and results are published under: the commit (+ "-dirty"). */
export function applicationVersion(): string {
  const dirty = git('status', '--porcelain', '--', 'pacts', 'services', 'contracts') !== '';
  return `${git('rev-parse', '--short=12', 'HEAD')}${dirty ? '-dirty' : ''}`;
}

export function branch(): string {
  return process.env['PACT_BROKER_BRANCH'] ?? git('rev-parse', '--abbrev-ref', 'HEAD');
}

/**
 * Downloads the latest pact of every consumer of `provider` into `dir` (for verifying against
 * the broker instead of pacts/). Returns the number of pacts.
 */
export async function fetchPactsForProvider(provider: string, dir: string): Promise<number> {
  const index = await brokerRequest(
    'GET',
    `/pacts/provider/${encodeURIComponent(provider)}/latest`,
  );
  const links = ((index['_links'] as Record<string, unknown> | undefined)?.['pb:pacts'] ?? []) as {
    href: string;
  }[];
  for (const link of links) {
    const pact = (await brokerRequest('GET', link.href)) as unknown as PactFile;
    writeFileAtomic(
      path.join(dir, `${pact.consumer.name}-${pact.provider.name}.json`),
      `${JSON.stringify(pact, null, 2)}\n`,
    );
  }
  return links.length;
}

/**
 * With PACT_FROM_BROKER=1, a temporary directory holding the broker's latest pacts for
 * `provider` (provider tests then verify those instead of pacts/); otherwise undefined.
 */
export async function brokerPactDir(provider: string): Promise<string | undefined> {
  if (process.env['PACT_FROM_BROKER'] !== '1') return undefined;
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), `ledgerline-broker-${provider}-`));
  await fetchPactsForProvider(provider, dir);
  return dir;
}
