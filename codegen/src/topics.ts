// contracts/topics.yaml: the one place that says who talks to whom.
import { parseDocument } from 'yaml';
import { COMPATIBILITY_MODES, type CompatibilityMode } from '@ledgerline/platform/events/topic';
import { ContractError } from './errors.js';
import { selfContainedSchema, type AvroCatalogue, type AvroJson } from './avro/schema.js';

export const SERVICES = ['processor', 'ledger', 'reconciliation', 'audit'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface TopicContract {
  name: string;
  doc: string;
  /** Full name of a record, or an inline primitive schema. */
  key: AvroJson;
  value: string;
  partitions: number;
  keyCompatibility: CompatibilityMode;
  valueCompatibility: CompatibilityMode;
  producers: ServiceName[];
  consumers: ServiceName[];
  /** Topic configuration applied when the topic is created (Kafka takes strings). */
  config: Record<string, string>;
}

const TOPIC_NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const KEY_ALIASES: Record<string, AvroJson> = {
  uuid: { type: 'string', logicalType: 'uuid' },
  'string-uuid': { type: 'string', logicalType: 'uuid' },
  string: 'string',
};

export function loadTopics(file: string, text: string, catalogue: AvroCatalogue): TopicContract[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ContractError(file, `line ${e.linePos?.[0]?.line ?? '?'}`, e.message);
  }
  const root = doc.toJS() as unknown;
  const topics = (root as { topics?: unknown })?.topics;
  if (!Array.isArray(topics)) throw new ContractError(file, '/topics', 'expected a list of topics');
  const seen = new Set<string>();
  return topics.map((raw: unknown, i: number): TopicContract => {
    const at = (p: string) => `/topics/${i}${p}`;
    if (raw === null || typeof raw !== 'object')
      throw new ContractError(file, at(''), 'expected an object');
    const t = raw as Record<string, unknown>;
    const name = t['name'];
    if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
      throw new ContractError(file, at('/name'), `invalid topic name ${JSON.stringify(name)}`);
    }
    if (seen.has(name)) throw new ContractError(file, at('/name'), `topic ${name} is listed twice`);
    seen.add(name);
    const doc = t['doc'];
    if (typeof doc !== 'string' || doc.trim() === '')
      throw new ContractError(file, at('/doc'), `topic ${name} has no doc`);
    const value = t['value'];
    if (typeof value !== 'string' || !catalogue.types.has(value)) {
      throw new ContractError(
        file,
        at('/value'),
        `value ${JSON.stringify(value)} is not a record in contracts/avro`,
      );
    }
    const rawKey = t['key'];
    let key: AvroJson;
    if (typeof rawKey === 'string' && rawKey in KEY_ALIASES) key = KEY_ALIASES[rawKey]!;
    else if (typeof rawKey === 'string' && catalogue.types.has(rawKey)) key = rawKey;
    else {
      throw new ContractError(
        file,
        at('/key'),
        `key ${JSON.stringify(rawKey)} must be one of ${Object.keys(KEY_ALIASES).join(', ')} or a record full name`,
      );
    }
    const partitions = t['partitions'];
    if (
      typeof partitions !== 'number' ||
      !Number.isInteger(partitions) ||
      partitions < 1 ||
      partitions > 1000
    ) {
      throw new ContractError(file, at('/partitions'), 'partitions must be an integer in 1..1000');
    }
    const compat = t['compatibility'];
    const mode = (v: unknown, p: string): CompatibilityMode => {
      if (typeof v !== 'string' || !(COMPATIBILITY_MODES as readonly string[]).includes(v)) {
        throw new ContractError(
          file,
          at(p),
          `compatibility must be one of ${COMPATIBILITY_MODES.join(', ')}`,
        );
      }
      return v as CompatibilityMode;
    };
    let keyCompatibility: CompatibilityMode;
    let valueCompatibility: CompatibilityMode;
    if (typeof compat === 'string') {
      keyCompatibility = valueCompatibility = mode(compat, '/compatibility');
    } else if (compat !== null && typeof compat === 'object') {
      const c = compat as Record<string, unknown>;
      keyCompatibility = mode(c['key'], '/compatibility/key');
      valueCompatibility = mode(c['value'], '/compatibility/value');
    } else {
      throw new ContractError(file, at('/compatibility'), 'missing compatibility');
    }
    const services = (v: unknown, p: string): ServiceName[] => {
      if (!Array.isArray(v) || v.length === 0)
        throw new ContractError(file, at(p), 'expected a non-empty list of services');
      return v.map((s, j) => {
        if (!(SERVICES as readonly string[]).includes(s as string)) {
          throw new ContractError(
            file,
            at(`${p}/${j}`),
            `unknown service ${JSON.stringify(s)} (one of ${SERVICES.join(', ')})`,
          );
        }
        return s as ServiceName;
      });
    };
    const rawConfig = t['config'] ?? {};
    if (rawConfig === null || typeof rawConfig !== 'object' || Array.isArray(rawConfig)) {
      throw new ContractError(file, at('/config'), 'config must be a map of Kafka topic settings');
    }
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawConfig as Record<string, unknown>).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      if (typeof v !== 'string') {
        throw new ContractError(
          file,
          at(`/config/${k}`),
          'topic settings are strings, as Kafka takes them',
        );
      }
      config[k] = v;
    }
    return {
      name,
      doc,
      config,
      key,
      value,
      partitions,
      keyCompatibility,
      valueCompatibility,
      producers: services(t['producers'], '/producers'),
      consumers: services(t['consumers'], '/consumers'),
    };
  });
}

/** The key schema as the registry stores it: a record key inlined, a primitive key as is. */
export function keySchemaOf(catalogue: AvroCatalogue, topic: TopicContract): AvroJson {
  return typeof topic.key === 'string' && catalogue.types.has(topic.key)
    ? selfContainedSchema(catalogue, topic.key)
    : topic.key;
}
