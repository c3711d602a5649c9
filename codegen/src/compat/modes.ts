// Compatibility modes as Confluent Schema Registry applies them when a new version is
// registered (io.confluent.kafka.schemaregistry.CompatibilityChecker):
// - BACKWARD: the new schema reads data written with the previous one.
// - FORWARD: the previous schema reads data written with the new one.
// - FULL: both. Non-transitive modes look at the latest previous version only;
//   *_TRANSITIVE modes at every previous version.
// The registry stops at the first incompatible version (newest first); we check every version
// so that one run names everything to fix. The verdict is the same.
import { checkReaderWriter, type AvroProblem, type AvroWarning } from './avro.js';
import { toParsedAvroSchema, type ParsedAvroSchema } from './avro-schema.js';

export const COMPATIBILITY_MODES = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

export function isCompatibilityMode(value: string): value is CompatibilityMode {
  return (COMPATIBILITY_MODES as readonly string[]).includes(value);
}

/** Which schema decodes which: the new one reading old data, or old readers meeting new data. */
export type Direction = 'new-reads-previous' | 'previous-reads-new';

export interface VersionContext {
  /** Index into `previousSchemasOldestFirst` of the version this finding is against. */
  previousIndex: number;
  direction: Direction;
  reader: 'new' | 'previous';
  writer: 'new' | 'previous';
}

export type ModeProblem = AvroProblem & VersionContext;
export type ModeWarning = AvroWarning & VersionContext;

export interface CompatibilityResult {
  mode: CompatibilityMode;
  compatible: boolean;
  /** Previous versions checked, as indexes oldest first. */
  checkedIndexes: number[];
  problems: ModeProblem[];
  warnings: ModeWarning[];
}

interface ModePlan {
  transitive: boolean;
  directions: readonly Direction[];
}

// FULL checks "previous reads new" before "new reads previous", in the registry's order.
const PLANS: Readonly<Record<CompatibilityMode, ModePlan>> = {
  NONE: { transitive: false, directions: [] },
  BACKWARD: { transitive: false, directions: ['new-reads-previous'] },
  BACKWARD_TRANSITIVE: { transitive: true, directions: ['new-reads-previous'] },
  FORWARD: { transitive: false, directions: ['previous-reads-new'] },
  FORWARD_TRANSITIVE: { transitive: true, directions: ['previous-reads-new'] },
  FULL: { transitive: false, directions: ['previous-reads-new', 'new-reads-previous'] },
  FULL_TRANSITIVE: { transitive: true, directions: ['previous-reads-new', 'new-reads-previous'] },
};

/** Indexes (oldest first) of the versions a mode checks, newest first as the registry does. */
export function versionsToCheck(mode: CompatibilityMode, previousCount: number): number[] {
  const plan = PLANS[mode];
  if (plan.directions.length === 0 || previousCount === 0) return [];
  if (!plan.transitive) return [previousCount - 1];
  return Array.from({ length: previousCount }, (_, i) => previousCount - 1 - i);
}

function checkOne(
  direction: Direction,
  previousIndex: number,
  newSchema: ParsedAvroSchema,
  previous: ParsedAvroSchema,
): { problems: ModeProblem[]; warnings: ModeWarning[] } {
  const newReads = direction === 'new-reads-previous';
  const context: VersionContext = {
    previousIndex,
    direction,
    reader: newReads ? 'new' : 'previous',
    writer: newReads ? 'previous' : 'new',
  };
  const result = newReads
    ? checkReaderWriter(newSchema, previous)
    : checkReaderWriter(previous, newSchema);
  return {
    problems: result.problems.map((p) => ({ ...p, ...context })),
    warnings: result.warnings.map((w) => ({ ...w, ...context })),
  };
}

/**
 * Decides whether `newSchema` may be registered after `previousSchemasOldestFirst` under
 * `mode`. Schemas are JSON (or parsed with `parseAvroSchema`); throws `AvroSchemaError` on
 * invalid Avro.
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  newSchema: unknown,
  previousSchemasOldestFirst: readonly unknown[],
): CompatibilityResult {
  if (!isCompatibilityMode(mode)) throw new Error(`unknown compatibility mode: ${String(mode)}`);
  const parsedNew = toParsedAvroSchema(newSchema);
  const parsedPrevious = previousSchemasOldestFirst.map(toParsedAvroSchema);
  const checkedIndexes = versionsToCheck(mode, parsedPrevious.length);
  const results = checkedIndexes.flatMap((index) => {
    const previous = parsedPrevious[index];
    if (previous === undefined) throw new Error(`no previous schema at index ${index}`);
    return PLANS[mode].directions.map((direction) =>
      checkOne(direction, index, parsedNew, previous),
    );
  });
  const problems = results.flatMap((r) => r.problems);
  return {
    mode,
    compatible: problems.length === 0,
    checkedIndexes,
    problems,
    warnings: results.flatMap((r) => r.warnings),
  };
}
