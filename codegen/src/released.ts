// "Released" contracts: contracts/released/ holds, per subject, every schema version that was
// released (oldest first) and, per service API, the released OpenAPI document. `ledgerline
// release` appends to it; `contracts-check` compares the working contracts with it.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type avsc from 'avsc';
import type { CompatibilityMode } from '@ledgerline/platform/events/topic';
import { selfContainedSchema } from './avro/schema.js';
import type { Contracts } from './generate.js';
import { keySchemaOf } from './topics.js';
import { checkCompatibility } from './compat/modes.js';
import { findBreakingChanges } from './compat/openapi.js';
import {
  avroChanges,
  bumpFor,
  changelogEntry,
  mergeChanges,
  nextVersion,
  openapiChanges,
  prependEntry,
  type ContractChanges,
} from './versioning.js';

interface ReleasedSubject {
  subject: string;
  compatibility: CompatibilityMode;
  versions: unknown[];
}

interface SubjectNow {
  subject: string;
  compatibility: CompatibilityMode;
  schema: unknown;
  source: string;
  /** Where the schema sits in `source`: a key is a field of its topic in topics.yaml. */
  pointerPrefix: string;
}

function subjectsNow(contracts: Contracts): SubjectNow[] {
  return contracts.topics.flatMap((t) => [
    {
      subject: `${t.name}-key`,
      compatibility: t.keyCompatibility,
      schema: keySchemaOf(contracts.catalogue, t),
      source: 'contracts/topics.yaml',
      pointerPrefix: `/topics/${t.name.replace(/~/g, '~0').replace(/\//g, '~1')}/key`,
    },
    {
      subject: `${t.name}-value`,
      compatibility: t.valueCompatibility,
      schema: selfContainedSchema(contracts.catalogue, t.value),
      source: contracts.catalogue.types.get(t.value)?.file ?? t.value,
      pointerPrefix: '',
    },
  ]);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const subjectFile = (dir: string, subject: string) => path.join(dir, 'subjects', `${subject}.json`);
const openapiFile = (dir: string, service: string) => path.join(dir, 'openapi', `${service}.json`);

/** A change that the released contracts do not allow: where it is and why. */
export interface ReleasedProblem {
  /** The contract file to change, relative to the repository root. */
  file: string;
  /** JSON pointer into that file (`/topics/<name>/key` for a key subject). */
  pointer: string;
  rule: string;
  field?: string;
  /** One line naming the file, the subject or API and the field. */
  line: string;
}

/** Every problem, structured (for --format markdown and sarif). Empty when compatible. */
export async function findReleasedProblems(
  contracts: Contracts,
  releasedDir: string,
  /** Where the contracts were loaded from, to name the OpenAPI files. */
  contractsDir = 'contracts',
): Promise<ReleasedProblem[]> {
  const problems: ReleasedProblem[] = [];
  for (const now of subjectsNow(contracts)) {
    const released = await readJson<ReleasedSubject>(subjectFile(releasedDir, now.subject));
    if (!released || released.versions.length === 0) continue;
    const result = checkCompatibility(
      now.compatibility,
      now.schema as avsc.Schema,
      released.versions as avsc.Schema[],
    );
    for (const p of result.problems) {
      problems.push({
        file: now.source,
        pointer: now.pointerPrefix + (p.path === '/' ? '' : p.path),
        rule: p.rule,
        field: p.field,
        line: `${now.source}: subject ${now.subject} (${now.compatibility}): ${p.path}: ${p.rule}: ${p.message}`,
      });
    }
  }
  for (const [service, doc] of contracts.openapi) {
    const released = await readJson<Record<string, unknown>>(openapiFile(releasedDir, service));
    if (!released) continue;
    // Relative to the working directory, as the Avro files are (contracts/... from the root).
    const file = path.relative(
      process.cwd(),
      path.join(contractsDir, 'openapi', `${service}.yaml`),
    );
    for (const change of findBreakingChanges(released, doc)) {
      problems.push({
        file,
        pointer: change.pointer,
        rule: change.rule,
        ...(change.field === undefined ? {} : { field: change.field }),
        line: `${file}: ${change.pointer}: ${change.rule}: ${change.message}`,
      });
    }
  }
  return problems;
}

/** One line per problem, naming the file and the field. Empty when compatible. */
export async function checkAgainstReleased(
  contracts: Contracts,
  releasedDir: string,
): Promise<string[]> {
  return (await findReleasedProblems(contracts, releasedDir)).map((p) => p.line);
}

function stable(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** What a release of the current contracts would record: the files, and the changes in them. */
interface ReleasePlan {
  readonly files: readonly { readonly file: string; readonly text: string }[];
  /** One name per subject or API that changed ("<subject> v<n>", "openapi/<service>"). */
  readonly recorded: readonly string[];
  readonly changes: ContractChanges;
}

async function planRelease(contracts: Contracts, releasedDir: string): Promise<ReleasePlan> {
  const files: { file: string; text: string }[] = [];
  const recorded: string[] = [];
  const changes: ContractChanges[] = [];
  for (const now of subjectsNow(contracts)) {
    const file = subjectFile(releasedDir, now.subject);
    const released = (await readJson<ReleasedSubject>(file)) ?? {
      subject: now.subject,
      compatibility: now.compatibility,
      versions: [],
    };
    const last = released.versions[released.versions.length - 1];
    if (
      last !== undefined &&
      JSON.stringify(last) === JSON.stringify(now.schema) &&
      released.compatibility === now.compatibility
    ) {
      continue;
    }
    if (last === undefined || JSON.stringify(last) !== JSON.stringify(now.schema)) {
      changes.push(avroChanges(now.subject, last, now.schema));
      released.versions.push(now.schema);
    }
    released.compatibility = now.compatibility;
    files.push({ file, text: stable(released) });
    recorded.push(`${now.subject} v${released.versions.length}`);
  }
  for (const [service, doc] of contracts.openapi) {
    const file = openapiFile(releasedDir, service);
    const before = await readJson<unknown>(file);
    if (JSON.stringify(before) === JSON.stringify(doc)) continue;
    changes.push(openapiChanges(service, before, doc));
    files.push({ file, text: stable(doc) });
    recorded.push(`openapi/${service}`);
  }
  return { files, recorded, changes: mergeChanges(changes) };
}

/** Records the current contracts as released; returns what changed. */
export async function releaseContracts(
  contracts: Contracts,
  releasedDir: string,
): Promise<string[]> {
  // A breaking change has no version to ship as (it would be a minor one): refused here
  // too, not only by the CLI, so no caller can record it.
  const problems = await checkAgainstReleased(contracts, releasedDir);
  if (problems.length > 0) {
    throw new Error(`refusing to release incompatible contracts:\n${problems.join('\n')}`);
  }
  const plan = await planRelease(contracts, releasedDir);
  await mkdir(path.join(releasedDir, 'subjects'), { recursive: true });
  await mkdir(path.join(releasedDir, 'openapi'), { recursive: true });
  for (const { file, text } of plan.files) await writeFile(file, text);
  const recorded = [...plan.recorded];
  const version = await recordVersion(releasedDir, plan.changes);
  if (version !== undefined) recorded.push(`version ${version}`);
  return recorded;
}

/**
 * The version of packages built from the current contracts (the SDK). The released version when
 * they are what was released; otherwise the version their release would get, marked as not
 * released yet ("1.2.0-unreleased"), which sorts after the release before it and before their
 * own: a package must never carry a released version and hold something that release lacks.
 */
export async function contractsVersion(
  contracts: Contracts,
  releasedDir: string,
): Promise<{ readonly version: string; readonly unreleased: readonly string[] }> {
  // A package's version: no released version to build on is an error, not 0.0.0.
  const released = (await readFile(path.join(releasedDir, 'VERSION'), 'utf8')).trim();
  if (!/^\d+\.\d+\.\d+$/.test(released)) {
    throw new Error(`contracts/released/VERSION holds ${JSON.stringify(released)}, not x.y.z`);
  }
  const plan = await planRelease(contracts, releasedDir);
  if (plan.recorded.length === 0) return { version: released, unreleased: [] };
  const bump = bumpFor(plan.changes);
  // Only a compatibility mode changed: nothing a package holds differs from the release's.
  const version = bump === 'none' ? released : `${nextVersion(released, bump)}-unreleased`;
  return { version, unreleased: plan.recorded };
}

/**
 * Bumps contracts/released/VERSION (the SDK packages' version) for `changes` and puts their
 * entry on top of contracts/released/CHANGELOG.md; the new version, or undefined if none.
 */
async function recordVersion(
  releasedDir: string,
  changes: ContractChanges,
): Promise<string | undefined> {
  const bump = bumpFor(changes);
  if (bump === 'none') return undefined;
  const versionFile = path.join(releasedDir, 'VERSION');
  const version = nextVersion(await readFile(versionFile, 'utf8').catch(() => '0.0.0'), bump);
  const changelogFile = path.join(releasedDir, 'CHANGELOG.md');
  const changelog = await readFile(changelogFile, 'utf8').catch(() => '# Changelog\n');
  const date = new Date().toISOString().slice(0, 10);
  await writeFile(changelogFile, prependEntry(changelog, changelogEntry(version, changes, date)));
  await writeFile(versionFile, `${version}\n`);
  return version;
}

/** Subjects that are released but no longer in topics.yaml (removing a topic is a decision). */
export async function releasedSubjects(releasedDir: string): Promise<string[]> {
  try {
    return (await readdir(path.join(releasedDir, 'subjects')))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
  } catch {
    return [];
  }
}
