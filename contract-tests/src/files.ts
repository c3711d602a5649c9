// Where pacts and verification records live, and the content hashes that tie a verification to
// the exact pact and provider code it was run against ("verified at this commit").
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PACT_DIR = path.join(ROOT, 'pacts');
export const VERIFICATION_DIR = path.join(PACT_DIR, 'verifications');

export interface PactMessage {
  description: string;
  providerStates?: { name: string; params?: Record<string, unknown> }[];
  contents: unknown;
  metadata?: Record<string, unknown>;
  matchingRules?: Record<string, unknown>;
}

export interface PactHttpInteraction {
  description: string;
  providerStates?: { name: string }[];
  request: {
    method: string;
    path: string;
    query?: Record<string, string[]>;
    headers?: Record<string, string | string[]>;
    body?: unknown;
  };
  response: { status: number; headers?: Record<string, string | string[]>; body?: unknown };
}

export interface PactFile {
  consumer: { name: string };
  provider: { name: string };
  messages?: PactMessage[];
  interactions?: PactHttpInteraction[];
  metadata?: Record<string, unknown>;
}

export interface LoadedPact {
  file: string;
  pact: PactFile;
  hash: string;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export function pactFileName(consumer: string, provider: string): string {
  return path.join(PACT_DIR, `${consumer}-${provider}.json`);
}

/** Every committed pact, sorted by file name. */
export function loadPacts(dir = PACT_DIR): LoadedPact[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const text = readFileSync(file, 'utf8');
      return { file, pact: JSON.parse(text) as PactFile, hash: sha256(text) };
    });
}

function listFiles(dir: string, out: string[]): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listFiles(full, out);
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/**
 * What a provider verification depends on besides the pact: the provider's source, the
 * generated contracts, the platform (serde, Avro options) and the verification code itself.
 * Any change to one of them makes a recorded verification stale.
 */
export function providerHash(provider: string): string {
  const dirs = [
    path.join(ROOT, 'services', provider, 'src'),
    path.join(ROOT, 'generated', 'src'),
    path.join(ROOT, 'platform', 'src'),
    path.join(ROOT, 'contract-tests', 'src', 'providers'),
    // The HTTP interactions are answered by services the testkit starts.
    path.join(ROOT, 'testkit', 'src'),
  ];
  const verificationCode = [
    'avro-json',
    'capture',
    'files',
    'http-verify',
    'http-world',
    'states',
    'verifier-json',
    'verify',
  ].map((name) => path.join(ROOT, 'contract-tests', 'src', `${name}.ts`));
  const hash = createHash('sha256');
  for (const file of [...dirs.flatMap((d) => listFiles(d, [])), ...verificationCode].sort()) {
    hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * The pact one consumer test file writes. Interactions go to a private directory during the
 * file and are moved into pacts/ by `publish()` (in afterAll), so provider verifications running
 * in parallel never read a half-written pact; a file with a failed interaction keeps the
 * committed pact as it was (a half pact would hide what the consumer relies on).
 */
export class PactDraft {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'ledgerline-pact-'));
  private interactions = 0;
  private failures = 0;

  constructor(
    readonly consumer: string,
    readonly provider: string,
  ) {}

  /** Runs one interaction's Pact test, counting it as passed or failed. */
  async record(test: () => Promise<unknown>): Promise<void> {
    try {
      await test();
    } catch (error) {
      this.failures += 1;
      throw error;
    }
    this.interactions += 1;
  }

  /** Moves the pact into pacts/ when every interaction passed (only if it changed). */
  publish(): void {
    try {
      if (this.interactions === 0 || this.failures > 0) return;
      const written = path.join(this.dir, `${this.consumer}-${this.provider}.json`);
      const pact = JSON.parse(readFileSync(written, 'utf8')) as PactFile;
      const text = `${JSON.stringify(pact, null, 2)}\n`;
      const target = pactFileName(this.consumer, this.provider);
      const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
      if (current !== text) writeFileAtomic(target, text);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
