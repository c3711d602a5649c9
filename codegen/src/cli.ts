// `ledgerline`: the contracts toolbox. generate | check | compat | openapi-diff |
// contracts-check | release | register.
// Each command loads only what it needs (dynamic imports): `compat`, called once per subject,
// must not pay for the TypeScript compiler that `generate` pulls in through openapi-typescript.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ContractError } from './errors.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const CONTRACTS = path.join(ROOT, 'contracts');
const GENERATED = path.join(ROOT, 'generated');

const USAGE = `usage: ledgerline <command>
  generate            write generated/ from contracts/
  check               fail when generated/ differs from what contracts/ produce
  compat --mode <MODE> [--format F] <new.avsc> [<previous.avsc> ...]
  compat --registry <url> --subject <subject> [--format F] <new.avsc>
  openapi-diff [--format F] <previous.yaml> <new.yaml>
                      F: text (default), json, markdown, sarif
  contracts-check [--format text|json|markdown|sarif]
                      compare contracts/ with the released contracts (contracts/released/)
  release             record the current contracts as released (after contracts-check)
  register [<registry url>]
                      register every subject with its compatibility mode (deploy step)
  keys <create|list|revoke|rotate> ...   API keys of machine clients (ledgerline keys --help)
  dead-letters <list|show|replay> ...    records consumers gave up on (ledgerline dead-letters)`;

const io = {
  readFile: (f: string) => readFile(f, 'utf8'),
  stdout: (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  stderr: (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

/**
 * Commands that take no arguments refuse any: an option they do not know must not be ignored
 * (`release --dry-run` would otherwise release).
 */
const WITHOUT_ARGUMENTS = new Set(['generate', 'check', 'release']);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const unexpected =
    command === 'register'
      ? rest.filter((arg, i) => i > 0 || arg.startsWith('-'))
      : WITHOUT_ARGUMENTS.has(command ?? '')
        ? rest
        : [];
  if (unexpected.length > 0) {
    io.stderr(
      `ledgerline ${command}: unexpected ${unexpected.join(' ')}; nothing was done\n${USAGE}`,
    );
    return 2;
  }
  try {
    switch (command) {
      case 'generate':
      case 'check': {
        const started = performance.now();
        const { generate, loadContracts } = await import('./generate.js');
        const { findDrift, writeGenerated } = await import('./write.js');
        const files = await generate(await loadContracts(CONTRACTS));
        if (command === 'check') {
          const drift = await findDrift(GENERATED, files);
          const problems = [
            ...drift.missing.map((f) => `missing   generated/${f}`),
            ...drift.changed.map((f) => `differs   generated/${f}`),
            ...drift.extra.map((f) => `unexpected generated/${f}`),
          ];
          if (problems.length > 0) {
            io.stderr(
              `generated/ is out of date with contracts/ (run "npm run codegen"):\n${problems.join('\n')}`,
            );
            return 1;
          }
          io.stdout(`generated/ is in sync with contracts/ (${files.size} files)`);
          return 0;
        }
        const changed = await writeGenerated(GENERATED, files);
        io.stdout(
          `generated ${files.size} files (${changed} changed) in ${Math.round(performance.now() - started)} ms`,
        );
        return 0;
      }
      case 'compat':
      case 'openapi-diff': {
        const { runCompatCli } = await import('./compat/cli.js');
        return await runCompatCli(argv, io);
      }
      case 'contracts-check': {
        const { runContractsCheck } = await import('./contracts-check.js');
        return await runContractsCheck(rest, CONTRACTS, io);
      }
      case 'release': {
        const { loadContracts } = await import('./generate.js');
        const { checkAgainstReleased, releaseContracts } = await import('./released.js');
        const contracts = await loadContracts(CONTRACTS);
        const problems = await checkAgainstReleased(contracts, path.join(CONTRACTS, 'released'));
        if (problems.length > 0) {
          io.stderr(`refusing to release incompatible contracts:\n${problems.join('\n')}`);
          return 1;
        }
        const recorded = await releaseContracts(contracts, path.join(CONTRACTS, 'released'));
        io.stdout(`released: ${recorded.length === 0 ? 'nothing changed' : recorded.join(', ')}`);
        return 0;
      }
      case 'dead-letters': {
        // The platform reads and replays dead letters; the contracts name the topics.
        const { runDeadLettersCli } = await import('@ledgerline/platform/dead-letters-cli');
        const { allTopics, ledgerlineDeadLetterTopic } =
          await import('@ledgerline/generated/topics');
        return await runDeadLettersCli(rest, io, {
          deadLetter: ledgerlineDeadLetterTopic,
          sources: allTopics,
        });
      }
      case 'keys': {
        // The platform owns API keys; the CLI gives them the `ledgerline` command and the
        // contracts' scopes, so that a key cannot be made with a scope no API knows.
        const { runKeysCli } = await import('@ledgerline/platform/auth/keys-cli');
        const { apiScopes } = await import('@ledgerline/generated/openapi/contracts');
        return await runKeysCli(rest, io, { knownScopes: apiScopes });
      }
      case 'register': {
        const { loadContracts } = await import('./generate.js');
        const { registerContracts } = await import('./register.js');
        const contracts = await loadContracts(CONTRACTS);
        const url = rest[0] ?? process.env['SCHEMA_REGISTRY_URL'];
        const lines = await registerContracts(contracts, url);
        for (const line of lines) io.stdout(line);
        return 0;
      }
      default:
        io.stderr(USAGE);
        return 2;
    }
  } catch (error) {
    if (error instanceof ContractError) {
      io.stderr(`invalid contract: ${error.message}`);
      return 2;
    }
    io.stderr(`ledgerline ${command}: ${(error as Error).message}`);
    return 1;
  }
}
