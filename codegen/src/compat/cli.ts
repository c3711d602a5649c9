// `ledgerline compat` and `ledgerline openapi-diff`: read the files (or, with --registry, the
// subject's registered versions), run the pure checkers, print one line per problem, or JSON,
// Markdown (a pull-request comment) or SARIF (code-scanning annotations on the breaking line).
// Exit 0 compatible, 1 incompatible, 2 unusable input.
import { parse as parseYaml } from 'yaml';
import { locatePointer } from './locate.js';
import { fetchRegisteredSubject, RegistryQueryError } from './registry.js';
import {
  OUTPUT_FORMATS,
  isOutputFormat,
  renderMarkdown,
  renderSarif,
  type CheckReport,
  type OutputFormat,
  type ReportFinding,
} from './report.js';
import { AvroSchemaError, parseAvroSchema, type ParsedAvroSchema } from './avro-schema.js';
import {
  COMPATIBILITY_MODES,
  checkCompatibility,
  isCompatibilityMode,
  type CompatibilityMode,
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
  /** SCHEMA_REGISTRY_* settings for --registry (default: none). */
  env?: Readonly<Record<string, string | undefined>>;
  /** SARIF paths are relative to it (default: the process's working directory). */
  cwd?: string;
}

/** The version SARIF names as the tool's; the contracts toolbox is versioned with the repo. */
export const TOOL_VERSION = '0.1.0';

export const EXIT_COMPATIBLE = 0;
export const EXIT_INCOMPATIBLE = 1;
export const EXIT_INVALID_INPUT = 2;

export const COMPAT_USAGE = `usage: ledgerline compat --mode <MODE> [--format F] <new.avsc> [<previous.avsc> ...]
         (previous schemas oldest first; MODE: ${COMPATIBILITY_MODES.join(', ')})
       ledgerline compat --registry <url> --subject <subject> [--format F] <new.avsc>
         (every registered version, under the subject's configured mode; basic auth from
          --username + --password-file, SCHEMA_REGISTRY_USERNAME/PASSWORD or URL user-info;
          TLS: --ca-file, --cert-file + --key-file)
       ledgerline openapi-diff [--format F] <previous.yaml> <new.yaml>
  F: ${OUTPUT_FORMATS.join(', ')} (--json is --format json)`;

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

// Options that take a value, per command; each may be given as `--name value` or `--name=value`.
const VALUE_OPTIONS = {
  compat: [
    'mode',
    'format',
    'registry',
    'subject',
    'username',
    'password-file',
    'ca-file',
    'cert-file',
    'key-file',
  ],
  'openapi-diff': ['format'],
} as const satisfies Record<string, readonly string[]>;

type ValueOption = (typeof VALUE_OPTIONS)[keyof typeof VALUE_OPTIONS][number];

export interface Args {
  command: string;
  format: OutputFormat;
  /** Options with values, by name without dashes. */
  options: Partial<Record<ValueOption, string>>;
  files: string[];
}

function valueOptionsOf(command: string): readonly string[] {
  return command in VALUE_OPTIONS ? VALUE_OPTIONS[command as keyof typeof VALUE_OPTIONS] : [];
}

function parseArgs(argv: readonly string[]): Args {
  const [command = '', ...rest] = argv;
  const args: Args = { command, format: 'text', options: {}, files: [] };
  const known = valueOptionsOf(command);
  let optionsEnded = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (optionsEnded || !arg.startsWith('-')) {
      args.files.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '--json') {
      args.options.format = 'json';
      continue;
    }
    const [flag = '', inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [''];
    if (!known.includes(flag)) throw usageError(`unknown option ${arg}`);
    const value = inline ?? rest[++i];
    if (value === undefined || value === '') throw usageError(`--${flag} needs a value`);
    args.options[flag as ValueOption] = value;
  }
  const format = args.options.format ?? 'text';
  if (!isOutputFormat(format)) {
    throw usageError(`unknown format ${format} (expected one of ${OUTPUT_FORMATS.join(', ')})`);
  }
  args.format = format;
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
  /** Files, or with --registry `<subject> v<version> (id <id>)`, oldest first. */
  previousFiles: string[];
  checkedFiles: string[];
  problems: (ModeProblem & { readerFile: string; writerFile: string })[];
  warnings: (ModeWarning & { readerFile: string; writerFile: string })[];
  /** With --registry: where the previous versions and the mode came from. */
  registry?: { url: string; subject: string; modeSource: 'subject' | 'global' };
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

function compatSummary(report: CompatReport): string {
  const against =
    report.checkedFiles.length === 0
      ? report.mode === 'NONE'
        ? 'mode NONE checks nothing'
        : 'no previous version'
      : `checked against ${report.checkedFiles.join(', ')}`;
  if (report.compatible) return `compatible: ${report.newFile} under ${report.mode} (${against})`;
  const count = report.problems.length;
  return `incompatible: ${report.newFile} under ${report.mode} (${against}): ${count} problem${count === 1 ? '' : 's'}`;
}

/** The findings located in the new file (a previous schema's path is looked up there too). */
function compatCheckReport(report: CompatReport, newText: string): CheckReport {
  const finding = (
    f: CompatReport['problems'][number] | CompatReport['warnings'][number],
    level: ReportFinding['level'],
  ): ReportFinding => {
    const location = locatePointer(newText, f.path);
    return {
      ruleId: f.rule,
      level,
      message: findingLine(f),
      field: f.field,
      file: report.newFile,
      ...(location ? { location } : {}),
    };
  };
  return {
    command: 'compat',
    compatible: report.compatible,
    summary: compatSummary(report),
    findings: [
      ...report.problems.map((p) => finding(p, 'error')),
      ...report.warnings.map((w) => finding(w, 'warning')),
    ],
  };
}

function printCompat(io: CompatIo, report: CompatReport, format: OutputFormat, newText: string) {
  switch (format) {
    case 'json':
      io.stdout(JSON.stringify(report, null, 2));
      return;
    case 'markdown':
      io.stdout(renderMarkdown(compatCheckReport(report, newText)));
      return;
    case 'sarif':
      io.stdout(renderSarif(compatCheckReport(report, newText), sarifOptions(io)));
      return;
    case 'text':
      break;
  }
  for (const warning of report.warnings) io.stderr(`warning: ${findingLine(warning)}`);
  io.stdout(compatSummary(report));
  if (!report.compatible) for (const problem of report.problems) io.stdout(findingLine(problem));
}

export function sarifOptions(io: CompatIo): { rootDir: string; toolVersion: string } {
  return { rootDir: io.cwd ?? process.cwd(), toolVersion: TOOL_VERSION };
}

function modeOf(value: string): CompatibilityMode {
  const mode = value.toUpperCase();
  if (!isCompatibilityMode(mode)) {
    throw usageError(`unknown mode ${value} (expected one of ${COMPATIBILITY_MODES.join(', ')})`);
  }
  return mode;
}

interface PreviousVersions {
  mode: CompatibilityMode;
  labels: string[];
  schemas: ParsedAvroSchema[];
  registry?: CompatReport['registry'];
}

function registryEnv(args: Args, io: CompatIo): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...io.env };
  const { username, 'password-file': passwordFile } = args.options;
  if ((username === undefined) !== (passwordFile === undefined)) {
    throw usageError('--username and --password-file go together');
  }
  if (username !== undefined && passwordFile !== undefined) {
    env['SCHEMA_REGISTRY_USERNAME'] = username;
    env['SCHEMA_REGISTRY_PASSWORD_FILE'] = passwordFile;
    delete env['SCHEMA_REGISTRY_PASSWORD'];
  }
  if (args.options['ca-file']) env['SCHEMA_REGISTRY_CA_FILE'] = args.options['ca-file'];
  if (args.options['cert-file']) env['SCHEMA_REGISTRY_CERT_FILE'] = args.options['cert-file'];
  if (args.options['key-file']) env['SCHEMA_REGISTRY_KEY_FILE'] = args.options['key-file'];
  return env;
}

async function registryVersions(
  args: Args,
  io: CompatIo,
  url: string,
  subject: string,
): Promise<PreviousVersions> {
  const env = registryEnv(args, io);
  // The password travels in a file (a secret on a command line shows in `ps`).
  const passwordFile = env['SCHEMA_REGISTRY_PASSWORD_FILE'];
  if (passwordFile !== undefined) {
    env['SCHEMA_REGISTRY_PASSWORD'] = (await readText(io, passwordFile)).replace(/\r?\n$/, '');
  }
  const files = ['ca-file', 'cert-file', 'key-file'] as const;
  const texts = new Map<string, string>();
  for (const option of files) {
    const file = args.options[option];
    if (file !== undefined) texts.set(file, await readText(io, file));
  }
  let registered;
  try {
    registered = await fetchRegisteredSubject(
      { url, env, readFile: (file) => texts.get(file) ?? '' },
      subject,
    );
  } catch (error) {
    if (error instanceof RegistryQueryError) throw new InputError(undefined, error.message);
    if (error instanceof Error && error.name === 'TransportConfigError') {
      throw usageError(error.message);
    }
    throw error;
  }
  const schemas = registered.versions.map((v) => {
    try {
      return parseAvroSchema(v.schema);
    } catch (error) {
      throw new InputError(
        `${subject} v${v.version}`,
        `registered schema is not valid Avro: ${errorMessage(error)}`,
      );
    }
  });
  return {
    mode: registered.mode,
    labels: registered.versions.map((v) => `${subject} v${v.version} (id ${v.id})`),
    schemas,
    registry: { url: url.replace(/\/\/[^@/]*@/, '//'), subject, modeSource: registered.modeSource },
  };
}

async function runCompat(args: Args, io: CompatIo): Promise<number> {
  const { registry, subject, mode } = args.options;
  const [newFile, ...previousFiles] = args.files;
  if (newFile === undefined) throw usageError('missing <new.avsc>');
  let previous: PreviousVersions;
  let parsedNew: ParsedAvroSchema;
  if (registry !== undefined || subject !== undefined) {
    if (registry === undefined || subject === undefined) {
      throw usageError('--registry and --subject go together');
    }
    if (mode !== undefined) throw usageError("--mode is the subject's own with --registry");
    if (previousFiles.length > 0) {
      throw usageError('with --registry, give only <new.avsc>: the registry has the versions');
    }
    [parsedNew] = (await readAll([newFile], (f) => readAvro(io, f))) as [ParsedAvroSchema];
    previous = await registryVersions(args, io, registry, subject);
  } else {
    if (mode === undefined) throw usageError('--mode is required (or --registry and --subject)');
    for (const option of [
      'username',
      'password-file',
      'ca-file',
      'cert-file',
      'key-file',
    ] as const) {
      if (args.options[option] !== undefined) throw usageError(`--${option} needs --registry`);
    }
    const checkedMode = modeOf(mode);
    const [first, ...rest] = await readAll([newFile, ...previousFiles], (f) => readAvro(io, f));
    parsedNew = first as ParsedAvroSchema;
    previous = { mode: checkedMode, labels: previousFiles, schemas: rest };
  }
  const result = checkCompatibility(previous.mode, parsedNew, previous.schemas);
  const report: CompatReport = {
    command: 'compat',
    mode: previous.mode,
    compatible: result.compatible,
    newFile,
    previousFiles: previous.labels,
    checkedFiles: result.checkedIndexes.map((i) => previous.labels[i] ?? `#${i}`),
    problems: result.problems.map((p) => withFiles(p, newFile, previous.labels)),
    warnings: result.warnings.map((w) => withFiles(w, newFile, previous.labels)),
    ...(previous.registry ? { registry: previous.registry } : {}),
  };
  printCompat(io, report, args.format, await io.readFile(newFile));
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
  const count = changes.length;
  const summary = compatible
    ? `compatible: no breaking changes from ${previousFile} to ${newFile}`
    : `incompatible: ${count} breaking change${count === 1 ? '' : 's'} from ${previousFile} to ${newFile}`;
  switch (args.format) {
    case 'json':
      io.stdout(
        JSON.stringify(
          { command: 'openapi-diff', compatible, previousFile, newFile, changes },
          null,
          2,
        ),
      );
      break;
    case 'markdown':
    case 'sarif': {
      const newText = await io.readFile(newFile);
      const report: CheckReport = {
        command: 'openapi-diff',
        compatible,
        summary,
        findings: changes.map((change) => openApiFinding(change, newFile, newText)),
      };
      io.stdout(
        args.format === 'markdown' ? renderMarkdown(report) : renderSarif(report, sarifOptions(io)),
      );
      break;
    }
    case 'text':
      io.stdout(summary);
      for (const change of changes) io.stdout(changeLine(change));
      break;
  }
  return compatible ? EXIT_COMPATIBLE : EXIT_INCOMPATIBLE;
}

const RULE_KEYWORDS: readonly (readonly [string, string])[] = [
  ['EXCLUSIVE_MAXIMUM_DECREASED', 'exclusiveMaximum'],
  ['EXCLUSIVE_MAXIMUM_INCREASED', 'exclusiveMaximum'],
  ['EXCLUSIVE_MINIMUM_INCREASED', 'exclusiveMinimum'],
  ['EXCLUSIVE_MINIMUM_DECREASED', 'exclusiveMinimum'],
  ['_MAXIMUM_DECREASED', 'maximum'],
  ['_MAXIMUM_INCREASED', 'maximum'],
  ['_MINIMUM_INCREASED', 'minimum'],
  ['_MINIMUM_DECREASED', 'minimum'],
  ['MAX_LENGTH_DECREASED', 'maxLength'],
  ['MAX_LENGTH_INCREASED', 'maxLength'],
  ['MIN_LENGTH_INCREASED', 'minLength'],
  ['MIN_LENGTH_DECREASED', 'minLength'],
  ['MAX_ITEMS_DECREASED', 'maxItems'],
  ['MAX_ITEMS_INCREASED', 'maxItems'],
  ['MIN_ITEMS_INCREASED', 'minItems'],
  ['MIN_ITEMS_DECREASED', 'minItems'],
  ['ENUM_VALUE_REMOVED', 'enum'],
  ['ENUM_VALUE_ADDED', 'enum'],
  ['TYPE_CHANGED', 'type'],
];

/** A breaking change as a report finding, located in the new document's text. */
export function openApiFinding(change: BreakingChange, file: string, text: string): ReportFinding {
  // A rule about one keyword (a bound, the enum, the type) points at that keyword's line.
  const keyword = RULE_KEYWORDS.find(([suffix]) => change.rule.endsWith(suffix))?.[1];
  const atKeyword = keyword ? locatePointer(text, `${change.pointer}/${keyword}`) : undefined;
  const location = atKeyword?.exact ? atKeyword : locatePointer(text, change.pointer);
  return {
    ruleId: change.rule,
    level: 'error',
    message: changeLine(change),
    ...(change.field === undefined ? {} : { field: change.field }),
    file,
    ...(location ? { location } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

function printInputError(io: CompatIo, args: Args | undefined, error: InputError) {
  if (args?.format === 'json') {
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
