// `ledgerline compat` and `ledgerline openapi-diff`: read the files, run the pure checkers,
// print one line per problem (or JSON). Exit 0 compatible, 1 incompatible, 2 unusable input.
import { parse as parseYaml } from 'yaml';
import { AvroSchemaError, parseAvroSchema, type ParsedAvroSchema } from './avro-schema.js';
import {
  COMPATIBILITY_MODES,
  checkCompatibility,
  isCompatibilityMode,
  type CompatibilityResult,
  type ModeProblem,
  type ModeWarning,
} from './modes.js';
import { OpenApiDocumentError, findBreakingChanges, type BreakingChange } from './openapi.js';

export interface CompatIo {
  readFile(path: string): Promise<string>;
  /** Receives whole lines of output; the stream adds a final newline when it is missing. */
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT_COMPATIBLE = 0;
export const EXIT_INCOMPATIBLE = 1;
export const EXIT_INVALID_INPUT = 2;

export const COMPAT_USAGE = `usage: ledgerline compat --mode <MODE> [--json] <new.avsc> [<previous.avsc> ...]
         (previous schemas oldest first; MODE: ${COMPATIBILITY_MODES.join(', ')})
       ledgerline openapi-diff [--json] <previous.yaml> <new.yaml>`;

/** Input that cannot be checked: which file (if any) and what is wrong with it. */
class InputError extends Error {
  constructor(
    readonly file: string | undefined,
    message: string,
    /** The command line itself is wrong: print the usage too. */
    readonly isUsage = false,
  ) {
    super(file === undefined ? message : `${file}: ${message}`);
    this.name = 'InputError';
  }
}

function usageError(message: string): InputError {
  return new InputError(undefined, message, true);
}

interface Args {
  command: string;
  json: boolean;
  mode: string | undefined;
  files: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const [command = '', ...rest] = argv;
  const args: Args = { command, json: false, mode: undefined, files: [] };
  const takesMode = command === 'compat';
  let optionsEnded = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (optionsEnded || !arg.startsWith('-')) {
      args.files.push(arg);
    } else if (arg === '--') {
      optionsEnded = true;
    } else if (arg === '--json') {
      args.json = true;
    } else if (takesMode && arg === '--mode') {
      i += 1;
      args.mode = rest[i];
      if (args.mode === undefined) throw usageError('--mode needs a value');
    } else if (takesMode && arg.startsWith('--mode=')) {
      args.mode = arg.slice('--mode='.length);
    } else {
      throw usageError(`unknown option ${arg}`);
    }
  }
  return args;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readText(io: CompatIo, file: string): Promise<string> {
  try {
    return await io.readFile(file);
  } catch (error) {
    throw new InputError(file, `cannot read file: ${errorMessage(error)}`);
  }
}

async function readAvro(io: CompatIo, file: string): Promise<ParsedAvroSchema> {
  const text = await readText(io, file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(file, `invalid JSON: ${errorMessage(error)}`);
  }
  try {
    return parseAvroSchema(json);
  } catch (error) {
    if (error instanceof AvroSchemaError) {
      throw new InputError(file, `invalid Avro schema: ${error.message}`);
    }
    throw error;
  }
}

async function readYaml(io: CompatIo, file: string): Promise<unknown> {
  const text = await readText(io, file);
  try {
    return parseYaml(text);
  } catch (error) {
    // The yaml package appends a code excerpt after the first line; the position is enough.
    const [summary = ''] = errorMessage(error).split('\n');
    throw new InputError(file, `invalid YAML: ${summary.replace(/:$/, '')}`);
  }
}

/** Reads every file before failing, so one run names every unusable file. */
async function readAll<T>(files: readonly string[], read: (file: string) => Promise<T>) {
  const settled = await Promise.allSettled(files.map(read));
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  const [first] = failures;
  if (failures.length === 1 && first instanceof InputError) throw first;
  if (failures.length > 0) throw new InputError(undefined, failures.map(errorMessage).join('\n'));
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

// ---------------------------------------------------------------------------------------------
// compat

interface CompatReport {
  command: 'compat';
  mode: CompatibilityResult['mode'];
  compatible: boolean;
  newFile: string;
  previousFiles: string[];
  checkedFiles: string[];
  problems: (ModeProblem & { readerFile: string; writerFile: string })[];
  warnings: (ModeWarning & { readerFile: string; writerFile: string })[];
}

function withFiles<T extends ModeProblem | ModeWarning>(
  finding: T,
  newFile: string,
  previousFiles: readonly string[],
): T & { readerFile: string; writerFile: string } {
  const previousFile = previousFiles[finding.previousIndex] ?? `#${finding.previousIndex}`;
  return {
    ...finding,
    readerFile: finding.reader === 'new' ? newFile : previousFile,
    writerFile: finding.writer === 'new' ? newFile : previousFile,
  };
}

function findingLine(finding: CompatReport['problems'][number] | CompatReport['warnings'][number]) {
  return (
    `${finding.field}: ${finding.rule}: reader ${finding.readerType} (${finding.readerFile}), ` +
    `writer ${finding.writerType} (${finding.writerFile}) at ${finding.path}: ${finding.message}`
  );
}

function printCompat(io: CompatIo, report: CompatReport, json: boolean) {
  if (json) {
    io.stdout(JSON.stringify(report, null, 2));
    return;
  }
  for (const warning of report.warnings) io.stderr(`warning: ${findingLine(warning)}`);
  const against =
    report.checkedFiles.length === 0
      ? report.mode === 'NONE'
        ? 'mode NONE checks nothing'
        : 'no previous version'
      : `checked against ${report.checkedFiles.join(', ')}`;
  if (report.compatible) {
    io.stdout(`compatible: ${report.newFile} under ${report.mode} (${against})`);
    return;
  }
  const count = report.problems.length;
  io.stdout(
    `incompatible: ${report.newFile} under ${report.mode} (${against}): ${count} problem${count === 1 ? '' : 's'}`,
  );
  for (const problem of report.problems) io.stdout(findingLine(problem));
}

async function runCompat(args: Args, io: CompatIo): Promise<number> {
  if (args.mode === undefined) throw usageError('--mode is required');
  const mode = args.mode.toUpperCase();
  if (!isCompatibilityMode(mode)) {
    throw usageError(
      `unknown mode ${args.mode} (expected one of ${COMPATIBILITY_MODES.join(', ')})`,
    );
  }
  const [newFile, ...previousFiles] = args.files;
  if (newFile === undefined) throw usageError('missing <new.avsc>');
  const [parsedNew, ...parsedPrevious] = await readAll([newFile, ...previousFiles], (f) =>
    readAvro(io, f),
  );
  const result = checkCompatibility(mode, parsedNew, parsedPrevious);
  const report: CompatReport = {
    command: 'compat',
    mode,
    compatible: result.compatible,
    newFile,
    previousFiles,
    checkedFiles: result.checkedIndexes.map((i) => previousFiles[i] ?? `#${i}`),
    problems: result.problems.map((p) => withFiles(p, newFile, previousFiles)),
    warnings: result.warnings.map((w) => withFiles(w, newFile, previousFiles)),
  };
  printCompat(io, report, args.json);
  return report.compatible ? EXIT_COMPATIBLE : EXIT_INCOMPATIBLE;
}

// ---------------------------------------------------------------------------------------------
// openapi-diff

function changeLine(change: BreakingChange): string {
  const field = change.field === undefined ? '' : ` (${change.field})`;
  return `${change.pointer}${field}: ${change.rule}: ${change.message}`;
}

async function runOpenApiDiff(args: Args, io: CompatIo): Promise<number> {
  if (args.files.length !== 2) {
    throw usageError('expected exactly two files: <previous.yaml> <new.yaml>');
  }
  const [previousFile = '', newFile = ''] = args.files;
  const [previous, next] = await readAll([previousFile, newFile], (f) => readYaml(io, f));
  let changes: BreakingChange[];
  try {
    changes = findBreakingChanges(previous, next, { file: newFile });
  } catch (error) {
    if (!(error instanceof OpenApiDocumentError)) throw error;
    const file = error.document === 'previous' ? previousFile : newFile;
    const where = error.pointer ? ` (at ${error.pointer})` : '';
    throw new InputError(file, `invalid OpenAPI document: ${error.problem}${where}`);
  }
  const compatible = changes.length === 0;
  if (args.json) {
    io.stdout(
      JSON.stringify(
        { command: 'openapi-diff', compatible, previousFile, newFile, changes },
        null,
        2,
      ),
    );
  } else if (compatible) {
    io.stdout(`compatible: no breaking changes from ${previousFile} to ${newFile}`);
  } else {
    const count = changes.length;
    io.stdout(
      `incompatible: ${count} breaking change${count === 1 ? '' : 's'} from ${previousFile} to ${newFile}`,
    );
    for (const change of changes) io.stdout(changeLine(change));
  }
  return compatible ? EXIT_COMPATIBLE : EXIT_INCOMPATIBLE;
}

// ---------------------------------------------------------------------------------------------

function printInputError(io: CompatIo, args: Args | undefined, error: InputError) {
  if (args?.json) {
    const body = { command: args.command, error: { file: error.file, message: error.message } };
    io.stdout(JSON.stringify(body, null, 2));
    return;
  }
  const command = args?.command ? `ledgerline ${args.command}` : 'ledgerline';
  for (const line of error.message.split('\n')) io.stderr(`${command}: ${line}`);
  if (error.isUsage) io.stderr(COMPAT_USAGE);
}

/**
 * Runs `compat` or `openapi-diff`; `argv` starts with the command name. File reading and
 * printing go through `io`, so tests run it on temp files and capture the output.
 */
export async function runCompatCli(argv: readonly string[], io: CompatIo): Promise<number> {
  let args: Args | undefined;
  try {
    args = parseArgs(argv);
    switch (args.command) {
      case 'compat':
        return await runCompat(args, io);
      case 'openapi-diff':
        return await runOpenApiDiff(args, io);
      default:
        throw usageError(`unknown command ${args.command || '(none)'}`);
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    printInputError(io, args, error);
    return EXIT_INVALID_INPUT;
  }
}
