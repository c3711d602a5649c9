// One report shape for the three checkers (compat, openapi-diff, contracts-check) and the two
// renderings CI systems show inline: Markdown for a pull-request comment, SARIF 2.1.0 for
// code-scanning tools (GitHub code scanning, GitLab, Azure DevOps), which annotate the line of
// the `.avsc` or OpenAPI file that breaks. Text and JSON stay with each command (their shape
// predates this module and scripts depend on it).
import path from 'node:path';
import type { SourceLocation } from './locate.js';

export const OUTPUT_FORMATS = ['text', 'json', 'markdown', 'sarif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isOutputFormat(value: string): value is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(value);
}

export type CheckCommand = 'compat' | 'openapi-diff' | 'contracts-check';

export interface ReportFinding {
  /** The checker's rule: Java's SchemaIncompatibilityType for Avro, ours for OpenAPI. */
  ruleId: string;
  /** `error` breaks the verdict; `warning` does not (e.g. a logical type that changed). */
  level: 'error' | 'warning';
  /** The same line the text output prints. */
  message: string;
  /** Dotted field or parameter, when the checker knows it. */
  field?: string;
  /** The file the finding is in (the new contract), as given on the command line. */
  file?: string;
  location?: SourceLocation;
}

export interface CheckReport {
  command: CheckCommand;
  compatible: boolean;
  /** The first line of the text output: verdict and what was compared. */
  summary: string;
  findings: ReportFinding[];
}

const TOOL_NAME = 'ledgerline';
const TOOL_URI = 'https://github.com/ledgerline/ledgerline#use-ledgerline-from-your-service';
// A pull-request comment is capped at 65,536 characters by GitHub; rows past this are counted.
const MARKDOWN_ROWS_MAX = 200;
// SARIF consumers cap results per run (GitHub: 25,000); ours are far fewer, bound them anyway.
const SARIF_RESULTS_MAX = 5_000;

const RULE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  NAME_MISMATCH: 'A named type (record, enum, fixed) changed its name without an alias.',
  FIXED_SIZE_MISMATCH: 'A fixed type changed its size.',
  MISSING_ENUM_SYMBOLS: 'The reader enum lacks a symbol the writer can send, and has no default.',
  READER_FIELD_MISSING_DEFAULT_VALUE:
    'The reader has a field the writer does not write, and the field has no default.',
  TYPE_MISMATCH: 'The reader type cannot read the writer type (no Avro promotion applies).',
  MISSING_UNION_BRANCH: 'The writer can send a union branch the reader does not have.',
  AMBIGUOUS_READER_FIELD: 'A reader field matches more than one writer field through aliases.',
  LOGICAL_TYPE_MISMATCH:
    'The logical type changed: the bytes still decode, but they mean something else.',
};

function describeRule(ruleId: string): string {
  const known = RULE_DESCRIPTIONS[ruleId];
  if (known !== undefined) return known;
  // OpenAPI rules are self-describing: REQUEST_FIELD_MADE_REQUIRED -> "Request field made required".
  const words = ruleId.toLowerCase().replace(/_/g, ' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)} (breaks clients built against the previous contract).`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function code(text: string): string {
  // A backtick inside inline code would end it; a doubled fence with spaces is the escape.
  return text.includes('`') ? `\`\` ${cell(text)} \`\`` : `\`${cell(text)}\``;
}

function where(finding: ReportFinding): string {
  if (finding.file === undefined) return '';
  const line = finding.location ? `:${finding.location.line}` : '';
  return code(`${finding.file}${line}`);
}

/** A pull-request comment: verdict first, then one table row per finding. */
export function renderMarkdown(report: CheckReport): string {
  const errors = report.findings.filter((f) => f.level === 'error').length;
  const warnings = report.findings.length - errors;
  const title = report.compatible
    ? `### ✅ \`ledgerline ${report.command}\`: compatible`
    : `### ❌ \`ledgerline ${report.command}\`: ${errors} breaking change${errors === 1 ? '' : 's'}`;
  // The marker lets a CI job find and update its own comment instead of adding one per push.
  const lines = [`<!-- ledgerline:${report.command} -->`, title, '', cell(report.summary)];
  if (report.findings.length > 0) {
    lines.push('', '| | Where | Field | Rule | Problem |', '|---|---|---|---|---|');
    for (const finding of report.findings.slice(0, MARKDOWN_ROWS_MAX)) {
      const level = finding.level === 'error' ? '❌' : '⚠️';
      const field = finding.field === undefined ? '' : code(finding.field);
      lines.push(
        `| ${level} | ${where(finding)} | ${field} | ${code(finding.ruleId)} | ${cell(finding.message)} |`,
      );
    }
    const omitted = report.findings.length - MARKDOWN_ROWS_MAX;
    if (omitted > 0) lines.push('', `…and ${omitted} more (run the check locally for all).`);
  }
  if (warnings > 0 && report.compatible) {
    lines.push('', `${warnings} warning${warnings === 1 ? '' : 's'}: compatible, but read them.`);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// SARIF 2.1.0

export interface SarifOptions {
  /** Paths are written relative to this directory (the repository root in CI). */
  rootDir: string;
  toolVersion: string;
}

function artifactUri(file: string, rootDir: string): { uri: string; uriBaseId?: string } {
  const absolute = path.resolve(rootDir, file);
  const relative = path.relative(rootDir, absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    return { uri: new URL(`file://${absolute}`).href };
  }
  // Code scanning resolves %SRCROOT%-relative URIs against the checkout.
  return {
    uri: relative.split(path.sep).map(encodeURIComponent).join('/'),
    uriBaseId: '%SRCROOT%',
  };
}

/** A SARIF 2.1.0 log with one run: rules used, one result per finding, exact regions. */
export function renderSarif(report: CheckReport, options: SarifOptions): string {
  const findings = report.findings.slice(0, SARIF_RESULTS_MAX);
  const ruleIds = [...new Set(findings.map((f) => f.ruleId))].sort();
  const rules = ruleIds.map((id) => ({
    id,
    name: id
      .toLowerCase()
      .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      .replace(/^[a-z]/, (c) => c.toUpperCase()),
    shortDescription: { text: describeRule(id) },
    defaultConfiguration: { level: id === 'LOGICAL_TYPE_MISMATCH' ? 'warning' : 'error' },
  }));
  const results = findings.map((finding) => ({
    ruleId: finding.ruleId,
    ruleIndex: ruleIds.indexOf(finding.ruleId),
    level: finding.level,
    message: { text: finding.message },
    ...(finding.file === undefined
      ? {}
      : {
          locations: [
            {
              physicalLocation: {
                artifactLocation: artifactUri(finding.file, options.rootDir),
                ...(finding.location
                  ? {
                      region: {
                        startLine: finding.location.line,
                        startColumn: finding.location.column,
                      },
                    }
                  : {}),
              },
              ...(finding.field === undefined
                ? {}
                : { logicalLocations: [{ fullyQualifiedName: finding.field }] }),
            },
          ],
        }),
  }));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: TOOL_NAME,
            informationUri: TOOL_URI,
            semanticVersion: options.toolVersion,
            rules,
          },
        },
        // Separates the three checks when one pipeline uploads all of them.
        automationDetails: { id: `ledgerline/${report.command}/` },
        originalUriBaseIds: { '%SRCROOT%': { uri: new URL(`file://${options.rootDir}/`).href } },
        invocations: [{ executionSuccessful: true }],
        results,
      },
    ],
  };
  return JSON.stringify(log, null, 2);
}
