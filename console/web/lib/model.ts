// What the console's own server answers besides the platform's APIs (the catalogue and the
// compatibility check): shared by the server that builds it and the pages that show it.

/** An Avro schema as JSON (a record, an enum, a union, a primitive...). */
export type AvroJson = unknown;

export interface CatalogueTopic {
  name: string;
  doc: string;
  keySubject: string;
  valueSubject: string;
  keySchema: AvroJson;
  valueSchema: AvroJson;
  partitions: number;
  keyCompatibility: string;
  valueCompatibility: string;
  producers: string[];
  consumers: string[];
}

export interface PactInteraction {
  description: string;
  /** Dotted paths of the fields the consumer's expectations name. */
  fields: string[];
}

export interface PactPair {
  consumer: string;
  provider: string;
  kind: 'message' | 'http';
  /** The topic, or "HTTP". */
  channel: string;
  verified: 'yes' | 'no' | 'stale' | 'never' | 'none' | '-';
  /** `<short commit> <ISO time>` of the provider's recorded verification, when known. */
  verifiedAt: string | null;
  interactions: PactInteraction[];
}

export interface Catalogue {
  /** The environment's topic prefix ('' in production): Kafka names are prefix + name. */
  topicPrefix: string;
  topics: CatalogueTopic[];
  openapi: { service: string; document: Record<string, unknown> }[];
  asyncapi: unknown;
  pacts: PactPair[];
}

export interface CompatibilityProblem {
  /** The registered version the finding is against. */
  version: number;
  direction: 'new-reads-previous' | 'previous-reads-new';
  field: string;
  rule: string;
  message: string;
}

export interface CompatibilityVerdict {
  subject: string;
  /** The subject's mode in the registry; null when the check could not run. */
  mode: string | null;
  compatible: boolean;
  checkedVersions: number[];
  /** The registry's own answer for the latest version; null when it gave none. */
  registryCompatible: boolean | null;
  problems: CompatibilityProblem[];
  /** Why the schema could not be checked (not JSON, not Avro, no version); null otherwise. */
  error: string | null;
}
