// The deploy step: every subject gets its compatibility mode from topics.yaml and its schema.
// Services never register at run time outside development.
import type avsc from 'avsc';
import { registerSchema } from '@ledgerline/platform/events/serde';
import { registryConnection, registryRequest } from '@ledgerline/platform/transport-security';
import { selfContainedSchema } from './avro/schema.js';
import type { Contracts } from './generate.js';
import { keySchemaOf } from './topics.js';

/** One registry call with the credentials and TLS of SCHEMA_REGISTRY_* (transport-security). */
function registryCall(
  registryUrl: string,
  path: string,
  method: 'GET' | 'PUT',
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return registryRequest(registryConnection(registryUrl, process.env), method, path, {
    body,
    timeoutMs: 10_000,
  });
}

async function setCompatibility(registryUrl: string, subject: string, mode: string): Promise<void> {
  const r = await registryCall(registryUrl, `/config/${encodeURIComponent(subject)}`, 'PUT', {
    compatibility: mode,
  });
  if (r.status >= 300)
    throw new Error(
      `registry refused compatibility ${mode} for ${subject} (HTTP ${r.status}): ${r.text}`,
    );
}

async function subjectExists(registryUrl: string, subject: string): Promise<boolean> {
  const r = await registryCall(
    registryUrl,
    `/subjects/${encodeURIComponent(subject)}/versions`,
    'GET',
  );
  return r.status === 200;
}

/** Registers one subject: compatibility first (so the registry judges the new schema under it). */
export async function registerSubject(
  registryUrl: string,
  subject: string,
  schema: avsc.Schema,
  compatibility: string,
): Promise<number> {
  if (await subjectExists(registryUrl, subject)) {
    await setCompatibility(registryUrl, subject, compatibility);
    return registerSchema(registryUrl, subject, schema);
  }
  const id = await registerSchema(registryUrl, subject, schema);
  await setCompatibility(registryUrl, subject, compatibility);
  return id;
}

export async function registerContracts(
  contracts: Contracts,
  registryUrl: string | undefined,
): Promise<string[]> {
  if (!registryUrl)
    throw new Error('SCHEMA_REGISTRY_URL is not set (or pass the registry URL as an argument)');
  const lines: string[] = [];
  for (const t of contracts.topics) {
    const keySchema = keySchemaOf(contracts.catalogue, t) as avsc.Schema;
    const valueSchema = selfContainedSchema(contracts.catalogue, t.value) as avsc.Schema;
    const keyId = await registerSubject(
      registryUrl,
      `${t.name}-key`,
      keySchema,
      t.keyCompatibility,
    );
    const valueId = await registerSubject(
      registryUrl,
      `${t.name}-value`,
      valueSchema,
      t.valueCompatibility,
    );
    lines.push(
      `${t.name}: key id ${keyId} (${t.keyCompatibility}), value id ${valueId} (${t.valueCompatibility})`,
    );
  }
  return lines;
}
