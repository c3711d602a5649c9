// What the generator knows about a topic, as a typed value. K, V and VInput are phantom:
// they tie the generated producer and consumer of a topic to its Avro types.
import type avsc from 'avsc';

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

export interface TopicDefinition<K, V, VInput = V> {
  readonly name: string;
  readonly keySubject: string;
  readonly valueSubject: string;
  /** Self-contained schemas: what the registry stores under the subjects. */
  readonly keySchema: avsc.Schema;
  readonly valueSchema: avsc.Schema;
  readonly partitions: number;
  readonly keyCompatibility: CompatibilityMode;
  readonly valueCompatibility: CompatibilityMode;
  /** Kafka topic settings applied at creation (retention, timestamp type...). */
  readonly config: Readonly<Record<string, string>>;
  readonly producers: readonly string[];
  readonly consumers: readonly string[];
  /** Never set: carries the types of the key and the value. */
  readonly types?: { key: K; value: V; valueInput: VInput };
}

/** Any topic: the phantom types are covariant, so every TopicDefinition is one. */
export type AnyTopic = TopicDefinition<unknown, unknown, unknown>;
export type KeyOf<T> = T extends TopicDefinition<infer K, unknown, unknown> ? K : never;
export type ValueOf<T> = T extends TopicDefinition<unknown, infer V, unknown> ? V : never;
export type ValueInputOf<T> = T extends TopicDefinition<unknown, unknown, infer I> ? I : never;

export function defineTopic<K, V, VInput>(
  definition: Omit<TopicDefinition<K, V, VInput>, 'types'>,
): TopicDefinition<K, V, VInput> {
  return Object.freeze({ ...definition });
}

/**
 * The same topic under a name prefix (subjects follow). Isolates environments that share a
 * cluster and registry, such as parallel test runs; production uses no prefix.
 */
export function prefixedTopic<T extends AnyTopic>(topic: T, prefix: string): T {
  if (prefix === '') return topic;
  if (!/^[a-z0-9][a-z0-9-]*\.$/.test(prefix)) {
    throw new Error(
      `topic prefix "${prefix}" must be lower-case letters, digits or dashes, ending with a dot`,
    );
  }
  const name = `${prefix}${topic.name}`;
  return Object.freeze({
    ...topic,
    name,
    keySubject: `${name}-key`,
    valueSubject: `${name}-value`,
  });
}

/** The topics the contract names the service a producer of, under the prefix. */
export function topicsProducedBy(
  service: string,
  contractTopics: readonly AnyTopic[],
  prefix: string,
): AnyTopic[] {
  return contractTopics
    .filter((topic) => topic.producers.includes(service))
    .map((topic) => prefixedTopic(topic, prefix));
}
