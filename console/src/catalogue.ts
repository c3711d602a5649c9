// The contract catalogue the console shows: what is generated from contracts/ (topics with
// their Avro schemas, the AsyncAPI document, every OpenAPI document), the pact matrix from
// pacts/, and the compatibility check of a proposed schema against a subject's registered
// versions. Everything here is read from the repository's generated artifacts and the
// registry's Confluent API: nothing comes from a service's database.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { registryRequest, type RegistryConnection } from '@ledgerline/platform/transport-security';
import { prefixedTopic } from '@ledgerline/platform/events/topic';
import { allTopics } from '@ledgerline/generated/topics';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import { AvroSchemaError } from '@ledgerline/codegen/compat/avro-schema';
import { checkCompatibility } from '@ledgerline/codegen/compat/modes';
import { readRegisteredSubject } from '@ledgerline/codegen/compat/registry';
import { computeMatrix } from '../../contract-tests/src/matrix.js';
import { loadPacts } from '../../contract-tests/src/files.js';
import type {
  CatalogueTopic,
  Catalogue,
  PactPair,
  CompatibilityVerdict,
} from '../web/lib/model.js';

interface AsyncApiChannel {
  address: string;
  description?: string;
}

/** Builds the catalogue once per console process: it changes only with the code. */
export async function buildCatalogue(topicPrefix: string): Promise<Catalogue> {
  const asyncapi = JSON.parse(
    await readFile(path.join(REPO_ROOT, 'generated', 'asyncapi.json'), 'utf8'),
  ) as { channels: Record<string, AsyncApiChannel> };
  const docs = new Map(
    Object.values(asyncapi.channels).map((c) => [c.address, c.description ?? '']),
  );
  const topics: CatalogueTopic[] = allTopics.map((topic) => {
    const named = prefixedTopic(topic, topicPrefix);
    return {
      name: topic.name,
      doc: docs.get(topic.name) ?? '',
      keySubject: named.keySubject,
      valueSubject: named.valueSubject,
      keySchema: topic.keySchema,
      valueSchema: topic.valueSchema,
      partitions: topic.partitions,
      keyCompatibility: topic.keyCompatibility,
      valueCompatibility: topic.valueCompatibility,
      producers: [...topic.producers],
      consumers: [...topic.consumers],
    };
  });
  return {
    topicPrefix,
    topics,
    openapi: apiContracts.map((c) => ({ service: c.service, document: c.document })),
    asyncapi,
    pacts: await pactPairs(),
  };
}

/** Each consumer-provider pair: its interactions, the fields it relies on, its verification. */
async function pactPairs(): Promise<PactPair[]> {
  const matrix = await computeMatrix();
  const pacts = loadPacts().map((p) => p.pact);
  return matrix.rows.map((row) => {
    const pact = pacts.find(
      (p) => p.consumer.name === row.consumer && p.provider.name === row.provider,
    );
    const interactions =
      row.kind === 'message'
        ? (pact?.messages ?? [])
            .filter((m) => m.metadata?.['topic'] === row.channel)
            .map((m) => ({ description: m.description, fields: fieldPaths(m.contents) }))
        : (pact?.interactions ?? []).map((i) => ({
            description: `${i.description} (${i.request.method} ${i.request.path})`,
            fields: fieldPaths(i.response.body),
          }));
    return {
      consumer: row.consumer,
      provider: row.provider,
      kind: row.kind,
      channel: row.channel,
      verified: row.verified,
      verifiedAt: verificationCommit(row.provider),
      interactions: interactions.map((i) => ({ ...i, fields: [...new Set(i.fields)].sort() })),
    };
  });
}

/** The commit that last recorded the provider's verification (git; absent outside a clone). */
function verificationCommit(provider: string): string | null {
  try {
    const out = execFileSync(
      'git',
      ['log', '-1', '--format=%h %cI', '--', `pacts/verifications/${provider}.json`],
      { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    return out === '' ? null : out;
  } catch {
    return null;
  }
}

/** Dotted paths of every leaf of a JSON value: the fields an interaction relies on. */
export function fieldPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value))
    return value.length === 0 ? [prefix] : fieldPaths(value[0], `${prefix}[]`);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return prefix === '' ? [] : [prefix];
    return entries.flatMap(([key, inner]) =>
      fieldPaths(inner, prefix === '' ? key : `${prefix}.${key}`),
    );
  }
  return prefix === '' ? [] : [prefix];
}

/**
 * "What would break": the proposed schema against every version the subject's mode checks,
 * with field-level findings from the same checker as `npm run contracts:check`, and the
 * registry's own verdict beside it.
 */
export async function checkProposedSchema(
  registry: RegistryConnection,
  subject: string,
  proposedText: string,
): Promise<CompatibilityVerdict> {
  let proposed: unknown;
  try {
    proposed = JSON.parse(proposedText);
  } catch (error) {
    return invalid(subject, `The schema is not JSON: ${(error as Error).message}`);
  }
  const registered = await readRegisteredSubject(registry, subject);
  if (registered.versions.length === 0)
    return invalid(subject, `The subject ${subject} has no registered version to compare with.`);
  let result;
  try {
    result = checkCompatibility(
      registered.mode,
      proposed,
      registered.versions.map((v) => v.schema),
    );
  } catch (error) {
    if (error instanceof AvroSchemaError) return invalid(subject, error.message);
    throw error;
  }
  const versionOf = (index: number) => registered.versions[index]?.version ?? index + 1;
  return {
    subject,
    mode: registered.mode,
    compatible: result.compatible,
    checkedVersions: result.checkedIndexes.map(versionOf),
    registryCompatible: await registryVerdict(registry, subject, proposedText),
    problems: result.problems.map((p) => ({
      version: versionOf(p.previousIndex),
      direction: p.direction,
      field: p.field,
      rule: p.rule,
      message: p.message,
    })),
    error: null,
  };
}

function invalid(subject: string, error: string): CompatibilityVerdict {
  return {
    subject,
    mode: null,
    compatible: false,
    checkedVersions: [],
    registryCompatible: null,
    problems: [],
    error,
  };
}

/** The registry's yes or no for the latest version (its mode decides which it checks). */
async function registryVerdict(
  registry: RegistryConnection,
  subject: string,
  schema: string,
): Promise<boolean | null> {
  try {
    const answer = await registryRequest(
      registry,
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
      { body: { schema }, timeoutMs: 10_000 },
    );
    if (answer.status !== 200) return null;
    const body = JSON.parse(answer.text) as { is_compatible?: unknown };
    return typeof body.is_compatible === 'boolean' ? body.is_compatible : null;
  } catch {
    return null;
  }
}
