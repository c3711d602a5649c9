// Avro schema resolution: can a reader schema decode every datum written with a writer schema?
// Mirrors org.apache.avro.SchemaCompatibility (Avro 1.11/1.12), which Confluent Schema Registry
// calls for every Avro compatibility check (AvroSchema.isBackwardCompatible), so the verdicts
// here are the registry's verdicts. Deliberate details, all as in Java:
// - Named types match on the unqualified name, or when a reader alias equals the writer's full
//   name. A namespace change alone is therefore compatible (Avro spec 1.10+, AVRO-2400).
// - Logical types are ignored: only the underlying type is resolved. A decimal whose precision
//   or scale changes, or timestamp-millis -> timestamp-micros, is COMPATIBLE for the registry.
//   Such changes reinterpret the same bytes, so we report them as warnings that never change
//   the verdict.
// - A reader union takes the first branch that can read the writer type; writer unions need
//   every branch readable. Recursive types are compatible unless proven otherwise.
// Where Java cannot name the problem we do it differently, with the same verdict:
// - a reader field without default whose type is an enum with a default: Java reports
//   TYPE_MISMATCH (it compares the enum to the writer record); we report the truth,
//   READER_FIELD_MISSING_DEFAULT_VALUE.
// - a reader field whose name and aliases match more than one writer field: Java throws and the
//   registry answers "incompatible"; we report AMBIGUOUS_READER_FIELD.
import {
  describeAvroType,
  escapePointerToken,
  isNamed,
  toParsedAvroSchema,
  type AvroNode,
  type EnumNode,
  type FieldNode,
  type FixedNode,
  type LogicalAnnotation,
  type NamedAvroNode,
  type RecordNode,
  type UnionNode,
} from './avro-schema.js';

/** Java's SchemaIncompatibilityType, plus one for the case where Java throws. */
export type AvroRule =
  | 'NAME_MISMATCH'
  | 'FIXED_SIZE_MISMATCH'
  | 'MISSING_ENUM_SYMBOLS'
  | 'READER_FIELD_MISSING_DEFAULT_VALUE'
  | 'TYPE_MISMATCH'
  | 'MISSING_UNION_BRANCH'
  | 'AMBIGUOUS_READER_FIELD';

/** Never affects the verdict (the registry accepts it) but changes what the bytes mean. */
export type AvroWarningRule = 'LOGICAL_TYPE_MISMATCH';

export interface AvroFinding<Rule extends string> {
  /** JSON pointer into the reader schema with field names: `/fields/amountMinor/type`. */
  path: string;
  /** Dotted field path from the reader's root type: `PaymentRequested.amountMinor`. */
  field: string;
  /** Java's location (field positions instead of names), as the registry prints it. */
  location: string;
  rule: Rule;
  readerType: string;
  writerType: string;
  message: string;
}

export type AvroProblem = AvroFinding<AvroRule>;
export type AvroWarning = AvroFinding<AvroWarningRule>;

export interface ReaderWriterResult {
  compatible: boolean;
  problems: AvroProblem[];
  warnings: AvroWarning[];
}

/** One step from a node to a part of it; rendered three ways (pointer, field path, Java). */
type Segment =
  | { kind: 'fieldType'; field: FieldNode }
  | { kind: 'field'; field: FieldNode }
  | { kind: 'items' }
  | { kind: 'values' }
  | { kind: 'branch'; index: number }
  | { kind: 'name' }
  | { kind: 'size' }
  | { kind: 'symbols' };

interface RelativeFinding<Rule extends string> {
  segments: readonly Segment[];
  rule: Rule;
  readerType: string;
  writerType: string;
  message: string;
}

interface Verdict {
  problems: readonly RelativeFinding<AvroRule>[];
  warnings: readonly RelativeFinding<AvroWarningRule>[];
}

const COMPATIBLE: Verdict = { problems: [], warnings: [] };
const IN_PROGRESS = 'in-progress';

/**
 * Results by (reader node, writer node) identity. Finding paths are relative to the pair, so a
 * named type used in several places is checked once and reported at each place it is used.
 */
type Memo = Map<AvroNode, Map<AvroNode, Verdict | typeof IN_PROGRESS>>;

function merge(...verdicts: readonly Verdict[]): Verdict {
  return {
    problems: verdicts.flatMap((v) => v.problems),
    warnings: verdicts.flatMap((v) => v.warnings),
  };
}

function under(segment: Segment, verdict: Verdict): Verdict {
  if (verdict.problems.length === 0 && verdict.warnings.length === 0) return verdict;
  return {
    problems: verdict.problems.map((p) => ({ ...p, segments: [segment, ...p.segments] })),
    warnings: verdict.warnings.map((w) => ({ ...w, segments: [segment, ...w.segments] })),
  };
}

function problem(
  rule: AvroRule,
  reader: AvroNode | string,
  writer: AvroNode | string,
  message: string,
  segments: readonly Segment[] = [],
): Verdict {
  const readerType = typeof reader === 'string' ? reader : describeAvroType(reader);
  const writerType = typeof writer === 'string' ? writer : describeAvroType(writer);
  return { problems: [{ segments, rule, readerType, writerType, message }], warnings: [] };
}

function isCompatible(verdict: Verdict): boolean {
  return verdict.problems.length === 0;
}

// Java: int -> long, float, double; long -> float, double; float -> double; string <-> bytes.
const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  long: ['int'],
  float: ['int', 'long'],
  double: ['int', 'long', 'float'],
  bytes: ['string'],
  string: ['bytes'],
};

function logicalAnnotationOf(node: AvroNode): LogicalAnnotation {
  return node.kind === 'union' ? {} : node;
}

function sameLogicalType(a: LogicalAnnotation, b: LogicalAnnotation): boolean {
  return a.logicalType === b.logicalType && a.precision === b.precision && a.scale === b.scale;
}

function logicalWarnings(reader: AvroNode, writer: AvroNode): Verdict {
  const r = logicalAnnotationOf(reader);
  const w = logicalAnnotationOf(writer);
  if (sameLogicalType(r, w)) return COMPATIBLE;
  const readerType = describeAvroType(reader);
  const writerType = describeAvroType(writer);
  const message =
    `the registry accepts this (logical types are not compared) but the reader interprets ` +
    `${writerType} data as ${readerType}`;
  return {
    problems: [],
    warnings: [{ segments: [], rule: 'LOGICAL_TYPE_MISMATCH', readerType, writerType, message }],
  };
}

function checkNames(reader: NamedAvroNode, writer: NamedAvroNode): Verdict {
  if (reader.name === writer.name || reader.aliases.includes(writer.fullName)) return COMPATIBLE;
  return problem(
    'NAME_MISMATCH',
    reader,
    writer,
    `reader ${reader.fullName} does not match writer ${writer.fullName}: neither the ` +
      `unqualified names nor a reader alias match`,
    [{ kind: 'name' }],
  );
}

function checkFixedSize(reader: FixedNode, writer: FixedNode): Verdict {
  if (reader.size === writer.size) return COMPATIBLE;
  return problem(
    'FIXED_SIZE_MISMATCH',
    reader,
    writer,
    `writer writes ${writer.size} bytes, reader expects ${reader.size}`,
    [{ kind: 'size' }],
  );
}

function checkEnumSymbols(reader: EnumNode, writer: EnumNode): Verdict {
  const missing = writer.symbols.filter((s) => !reader.symbols.includes(s)).sort();
  if (missing.length === 0) return COMPATIBLE;
  // Java accepts the loss when the reader's default is one of its own symbols.
  const readerDefault = reader.defaultSymbol;
  if (readerDefault !== undefined && reader.symbols.includes(readerDefault)) return COMPATIBLE;
  return problem(
    'MISSING_ENUM_SYMBOLS',
    reader,
    writer,
    `reader enum lacks writer symbol(s) [${missing.join(', ')}] and has no default symbol`,
    [{ kind: 'symbols' }],
  );
}

/** Java's lookupWriterField: the reader field's name, then each alias, by exact writer name. */
function writerFieldsFor(writer: RecordNode, readerField: FieldNode): FieldNode[] {
  return [readerField.name, ...readerField.aliases].flatMap((name) =>
    writer.fields.filter((f) => f.name === name),
  );
}

function checkField(memo: Memo, writer: RecordNode, field: FieldNode): Verdict {
  const matches = writerFieldsFor(writer, field);
  const [writerField] = matches;
  if (matches.length > 1) {
    return problem(
      'AMBIGUOUS_READER_FIELD',
      field.type,
      writer,
      `reader field "${field.name}" (name and aliases) matches ${matches.length} fields of ` +
        `writer record ${writer.fullName}: ${matches.map((f) => f.name).join(', ')}`,
      [{ kind: 'field', field }],
    );
  }
  if (writerField !== undefined) {
    return under({ kind: 'fieldType', field }, compare(memo, field.type, writerField.type));
  }
  if (field.hasDefault) return COMPATIBLE;
  return problem(
    'READER_FIELD_MISSING_DEFAULT_VALUE',
    field.type,
    `absent from ${describeAvroType(writer)}`,
    `reader field "${field.name}" has no default value and writer record ${writer.fullName} ` +
      `does not have it`,
    [{ kind: 'field', field }],
  );
}

function checkRecordFields(memo: Memo, reader: RecordNode, writer: RecordNode): Verdict {
  // Writer-only fields are skipped by the reader, so only reader fields are checked.
  return merge(...reader.fields.map((field) => checkField(memo, writer, field)));
}

/** First problem of the most similar reader branch, to say why no branch fits. */
function nearestBranchReason(memo: Memo, reader: UnionNode, writer: AvroNode): string {
  const similar = reader.branches.find((branch) =>
    isNamed(branch) && isNamed(writer) ? branch.name === writer.name : branch.kind === writer.kind,
  );
  if (similar === undefined) return '';
  const [first] = compare(memo, similar, writer).problems;
  if (first === undefined) return '';
  const where = renderPointer(first.segments);
  return `; closest branch ${describeAvroType(similar)}: ${first.rule}${where === '/' ? '' : ` at ${where}`}: ${first.message}`;
}

function checkReaderUnion(memo: Memo, reader: UnionNode, writer: AvroNode): Verdict {
  for (const branch of reader.branches) {
    const verdict = compare(memo, branch, writer);
    if (isCompatible(verdict)) return verdict;
  }
  return problem(
    'MISSING_UNION_BRANCH',
    reader,
    writer,
    `reader union has no branch that can read writer type ${describeAvroType(writer)}` +
      nearestBranchReason(memo, reader, writer),
  );
}

function checkUnionToUnion(memo: Memo, reader: UnionNode, writer: UnionNode): Verdict {
  return merge(
    // Java reports a branch no reader branch can read as MISSING_UNION_BRANCH, located at the
    // writer branch index (the reader-union case below produces exactly that).
    ...writer.branches.map((writerBranch, index) =>
      under({ kind: 'branch', index }, compare(memo, reader, writerBranch)),
    ),
  );
}

function checkSameKind(memo: Memo, reader: AvroNode, writer: AvroNode): Verdict {
  switch (reader.kind) {
    case 'array':
      return writer.kind === 'array'
        ? under({ kind: 'items' }, compare(memo, reader.items, writer.items))
        : COMPATIBLE;
    case 'map':
      return writer.kind === 'map'
        ? under({ kind: 'values' }, compare(memo, reader.values, writer.values))
        : COMPATIBLE;
    case 'fixed':
      return writer.kind === 'fixed'
        ? merge(
            checkNames(reader, writer),
            checkFixedSize(reader, writer),
            logicalWarnings(reader, writer),
          )
        : COMPATIBLE;
    case 'enum':
      return writer.kind === 'enum'
        ? merge(checkNames(reader, writer), checkEnumSymbols(reader, writer))
        : COMPATIBLE;
    case 'record':
      return writer.kind === 'record'
        ? merge(checkNames(reader, writer), checkRecordFields(memo, reader, writer))
        : COMPATIBLE;
    case 'union':
      return writer.kind === 'union' ? checkUnionToUnion(memo, reader, writer) : COMPATIBLE;
    default:
      return logicalWarnings(reader, writer);
  }
}

function checkDifferentKinds(memo: Memo, reader: AvroNode, writer: AvroNode): Verdict {
  if (writer.kind === 'union') {
    // Every writer branch must be readable by the (non-union) reader.
    return merge(
      ...writer.branches.map((branch, index) =>
        under({ kind: 'branch', index }, compare(memo, reader, branch)),
      ),
    );
  }
  if (reader.kind === 'union') return checkReaderUnion(memo, reader, writer);
  if (PROMOTIONS[reader.kind]?.includes(writer.kind)) return logicalWarnings(reader, writer);
  return problem(
    'TYPE_MISMATCH',
    reader,
    writer,
    `reader type ${describeAvroType(reader)} cannot read writer type ${describeAvroType(writer)}`,
  );
}

function compare(memo: Memo, reader: AvroNode, writer: AvroNode): Verdict {
  let byWriter = memo.get(reader);
  if (byWriter === undefined) {
    byWriter = new Map();
    memo.set(reader, byWriter);
  }
  const known = byWriter.get(writer);
  // A pair met again while it is still being checked is a recursive type: compatible unless
  // proven otherwise, exactly as Java breaks the recursion.
  if (known === IN_PROGRESS) return COMPATIBLE;
  if (known !== undefined) return known;
  byWriter.set(writer, IN_PROGRESS);
  const verdict =
    reader.kind === writer.kind
      ? checkSameKind(memo, reader, writer)
      : checkDifferentKinds(memo, reader, writer);
  byWriter.set(writer, verdict);
  return verdict;
}

function renderPointer(segments: readonly Segment[]): string {
  const tokens = segments.flatMap((s): (string | number)[] => {
    switch (s.kind) {
      case 'fieldType':
        return ['fields', s.field.name, 'type'];
      case 'field':
        return ['fields', s.field.name];
      case 'branch':
        return [s.index];
      default:
        return [s.kind];
    }
  });
  return `/${tokens.map(escapePointerToken).join('/')}`;
}

function renderJavaLocation(segments: readonly Segment[]): string {
  const tokens = segments.flatMap((s): (string | number)[] => {
    switch (s.kind) {
      case 'fieldType':
        return ['fields', s.field.pos, 'type'];
      case 'field':
        return ['fields', s.field.pos];
      case 'branch':
        return [s.index];
      default:
        return [s.kind];
    }
  });
  return `/${tokens.map(escapePointerToken).join('/')}`;
}

function renderFieldPath(root: AvroNode, segments: readonly Segment[]): string {
  const rootLabel = isNamed(root) ? root.name : root.kind;
  return segments.reduce((path, s) => {
    switch (s.kind) {
      case 'fieldType':
      case 'field':
        return `${path}.${s.field.name}`;
      case 'items':
        return `${path}[]`;
      case 'values':
        return `${path}{}`;
      default:
        return path;
    }
  }, rootLabel);
}

function render<Rule extends string>(
  root: AvroNode,
  finding: RelativeFinding<Rule>,
): AvroFinding<Rule> {
  return {
    path: renderPointer(finding.segments),
    field: renderFieldPath(root, finding.segments),
    location: renderJavaLocation(finding.segments),
    rule: finding.rule,
    readerType: finding.readerType,
    writerType: finding.writerType,
    message: finding.message,
  };
}

/**
 * Can `reader` decode every datum written with `writer`? Both are schema JSON (or parsed with
 * `parseAvroSchema`). Throws `AvroSchemaError` if either is not valid Avro.
 */
export function checkReaderWriter(reader: unknown, writer: unknown): ReaderWriterResult {
  const readerRoot = toParsedAvroSchema(reader).root;
  const writerRoot = toParsedAvroSchema(writer).root;
  const verdict = compare(new Map(), readerRoot, writerRoot);
  const problems = verdict.problems.map((p) => render(readerRoot, p));
  const warnings = verdict.warnings.map((w) => render(readerRoot, w));
  return { compatible: problems.length === 0, problems, warnings };
}
