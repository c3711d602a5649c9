// `ledgerline contracts-check [--format text|json|markdown|sarif]`: the working contracts
// against contracts/released/, printed for a terminal, a script, a pull-request comment or a
// code-scanning upload. Exit 0 compatible, 1 incompatible, 2 unusable command line.
import path from 'node:path';
import { loadContracts } from './generate.js';
import { findReleasedProblems } from './released.js';
import { locatePointer } from './compat/locate.js';
import {
  OUTPUT_FORMATS,
  isOutputFormat,
  renderMarkdown,
  renderSarif,
  type CheckReport,
  type OutputFormat,
} from './compat/report.js';
import { TOOL_VERSION, type CompatIo } from './compat/cli.js';

function formatOf(argv: readonly string[]): OutputFormat | string {
  let format = 'text';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--json') format = 'json';
    else if (arg === '--format') format = argv[++i] ?? '';
    else if (arg.startsWith('--format=')) format = arg.slice('--format='.length);
    else return `unknown argument ${arg}`;
  }
  return isOutputFormat(format)
    ? format
    : `unknown format ${format || '(none)'} (expected one of ${OUTPUT_FORMATS.join(', ')})`;
}

export async function runContractsCheck(
  argv: readonly string[],
  contractsDir: string,
  io: CompatIo,
): Promise<number> {
  const format = formatOf(argv);
  if (!isOutputFormat(format)) {
    io.stderr(`ledgerline contracts-check: ${format}`);
    return 2;
  }
  const contracts = await loadContracts(contractsDir);
  const problems = await findReleasedProblems(
    contracts,
    path.join(contractsDir, 'released'),
    contractsDir,
  );
  const compatible = problems.length === 0;
  const summary = compatible
    ? 'contracts are compatible with the released contracts'
    : `contracts are not compatible with the released contracts: ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  if (format === 'text') {
    if (compatible) io.stdout(summary);
    else
      io.stderr(
        `contracts are not compatible with the released contracts:\n${problems.map((p) => p.line).join('\n')}`,
      );
    return compatible ? 0 : 1;
  }
  if (format === 'json') {
    io.stdout(JSON.stringify({ command: 'contracts-check', compatible, problems }, null, 2));
    return compatible ? 0 : 1;
  }
  const rootDir = io.cwd ?? process.cwd();
  const texts = new Map<string, string | undefined>();
  const textOf = async (absolute: string) => {
    if (!texts.has(absolute)) {
      texts.set(absolute, await io.readFile(absolute).catch(() => undefined));
    }
    return texts.get(absolute);
  };
  const findings = [];
  for (const problem of problems) {
    // Problem files are relative to the working directory; reports name them from rootDir.
    const absolute = path.resolve(problem.file);
    const text = await textOf(absolute);
    const location = text === undefined ? undefined : locatePointer(text, problem.pointer);
    findings.push({
      ruleId: problem.rule,
      level: 'error' as const,
      message: problem.line,
      ...(problem.field === undefined ? {} : { field: problem.field }),
      file: path.relative(rootDir, absolute),
      ...(location ? { location } : {}),
    });
  }
  const report: CheckReport = { command: 'contracts-check', compatible, summary, findings };
  io.stdout(
    format === 'markdown'
      ? renderMarkdown(report)
      : renderSarif(report, { rootDir, toolVersion: TOOL_VERSION }),
  );
  return compatible ? 0 : 1;
}
