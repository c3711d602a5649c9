// Confluent wire format (magic byte 0, 4-byte schema id, Avro body) over
// @kafkajs/confluent-schema-registry. Schema ids are looked up once per subject and cached;
// decoding always resolves the writer's schema (by id) into the reader's own generated
// schema, so a consumer keeps working when producers move ahead compatibly.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type avsc from 'avsc';
import { avroType, avroTypeOptions } from '../avro.js';
import { scanDecodedText } from '../text.js';
import {
  registryConnection,
  registryRequest,
  type RegistryConnection,
} from '../transport-security.js';
import { DependencyUnavailableError, backoffMs, faultReason } from '../faults.js';
import type { AnyTopic, KeyOf, TopicDefinition, ValueInputOf, ValueOf } from './topic.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export class UndecodableMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndecodableMessageError';
  }
}

export class UnregisteredSchemaError extends Error {
  constructor(subject: string, cause: unknown) {
    super(
      `schema for subject ${subject} is not registered (run "npm run contracts:register"): ${String(
        (cause as Error)?.message ?? cause,
      )}`,
    );
    this.name = 'UnregisteredSchemaError';
  }
}

export interface EventSerdeOptions {
  registryUrl: string;
  /** Register missing schemas on first use. Development only: registration is a deploy step. */
  autoRegister: boolean;
  /** Credentials and TLS for the registry; default: from the environment (SCHEMA_REGISTRY_*). */
  registry?: RegistryConnection;
  /** Longest wait for the registry to answer a registration (default 10 s). */
  registerTimeoutMs?: number;
}

/** How long prepare() keeps asking a registry that is not answering (a cold start, a restart). */
const PREPARE_WAIT_MS_MAX = 60_000;

type RegistryClientOptions = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]>;

/**
 * How long the client library waits for the answer to one lookup (a schema by id, a subject's
 * id for a schema). Without a bound a lookup the registry took and never answered
 * (RegistryNoAnswerError) would hang the consumer or the start-up that needed it for good.
 */
const LOOKUP_WAIT_MS = 2_500;

/** Bounds every request of the client library to LOOKUP_WAIT_MS (mappersmith's timeout). */
const lookupWait: NonNullable<RegistryClientOptions['middlewares']>[number] = () => ({
  async prepareRequest(next) {
    return (await next()).enhance({ timeout: LOOKUP_WAIT_MS });
  },
});

/**
 * The library's retries, widened: every lookup is safe to repeat, the POST that asks for a
 * subject's id included (the library retries GETs only), and a lookup left unanswered is asked
 * again as a 5xx or a reset connection is. Four attempts: about 10 s at most.
 */
const LOOKUP_RETRY: RegistryClientOptions['retry'] = {
  retries: 3,
  enableRetry: () => true,
  validateRetry: (response) =>
    response.status() >= 500 || response.error()?.name === 'TimeoutError',
};

interface SubjectWriter {
  id: number;
  type: avsc.Type;
}

const encodeScratch = { buffer: Buffer.allocUnsafe(64 * 1024) };

/**
 * The Confluent client library as every service uses it: the connection's credentials and TLS,
 * each lookup bounded and asked again when the registry leaves it unanswered.
 */
export function schemaRegistryClient(connection: RegistryConnection): SchemaRegistry {
  return new SchemaRegistry(
    {
      host: connection.url,
      auth: connection.auth,
      agent: connection.agent,
      retry: LOOKUP_RETRY,
      middlewares: [lookupWait],
    },
    { forSchemaOptions: { ...avroTypeOptions } },
  );
}

export class EventSerde {
  readonly registry: SchemaRegistry;
  private readonly writers = new Map<string, Promise<SubjectWriter>>();
  private readonly readerTypes = new Map<string, avsc.Type>();
  /** Resolvers (and the writer's type) by `${subject}:${writerId}`: built once per writer schema. */
  private readonly resolvers = new Map<
    string,
    Promise<{ reader: avsc.Type; resolver: avsc.Resolver | null; writer: avsc.Type }>
  >();

  private readonly connection: RegistryConnection;

  constructor(private readonly options: EventSerdeOptions) {
    this.connection = options.registry ?? registryConnection(options.registryUrl, process.env);
    this.registry = schemaRegistryClient(this.connection);
  }

  private writer(subject: string, schema: avsc.Schema): Promise<SubjectWriter> {
    let pending = this.writers.get(subject);
    if (!pending) {
      pending = this.lookUpWriter(subject, schema);
      // A failed lookup must not be cached: the registry may come back.
      pending.catch(() => this.writers.delete(subject));
      this.writers.set(subject, pending);
    }
    return pending;
  }

  private async lookUpWriter(subject: string, schema: avsc.Schema): Promise<SubjectWriter> {
    const confluentSchema = { type: 'AVRO', schema: JSON.stringify(schema) } as const;
    let id: number;
    try {
      id = await this.registry.getRegistryIdBySchema(subject, confluentSchema as never);
    } catch (error) {
      // Only a 404 says "not registered"; anything else is a registry we cannot reach now.
      if (!isRegistryNotFound(error)) {
        throw new DependencyUnavailableError('registry', (error as Error).message, {
          cause: error,
        });
      }
      if (!this.options.autoRegister) throw new UnregisteredSchemaError(subject, error);
      try {
        id = await registerSchema(this.connection, subject, schema, this.options.registerTimeoutMs);
      } catch (refusal) {
        if (refusal instanceof DependencyUnavailableError) throw refusal;
        // The registry answered no (a wrong password, a schema it finds incompatible). The
        // message that needed the schema is not at fault: a consumer retries this as it retries
        // a refused lookup, and a start-up fails at once (`prepare`).
        throw new DependencyUnavailableError('registry', (refusal as Error).message, {
          cause: refusal,
        });
      }
    }
    return { id, type: avroType(schema) };
  }

  private readerType(subject: string, schema: avsc.Schema): avsc.Type {
    let type = this.readerTypes.get(subject);
    if (!type) {
      type = avroType(schema);
      this.readerTypes.set(subject, type);
    }
    return type;
  }

  /**
   * Looks up (and in development registers) the topic's key and value schema ids, at start-up.
   * A registry that does not answer yet (starting, restarting, cold) is asked again with
   * backoff for up to `waitMsMax`; a schema it does not have, or refuses, fails at once.
   */
  async prepare(topic: AnyTopic, waitMsMax = PREPARE_WAIT_MS_MAX): Promise<void> {
    const deadline = Date.now() + waitMsMax;
    for (let failures = 1; ; failures += 1) {
      try {
        await Promise.all([
          this.writer(topic.keySubject, topic.keySchema),
          this.writer(topic.valueSubject, topic.valueSchema),
        ]);
        return;
      } catch (error) {
        const waitMs = Math.min(backoffMs(failures), deadline - Date.now());
        const away = error instanceof DependencyUnavailableError && !isRegistryRefusal(error);
        if (!away || waitMs <= 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  private async encode(subject: string, schema: avsc.Schema, value: unknown): Promise<Buffer> {
    const { id, type } = await this.writer(subject, schema);
    // Encode into a reused buffer after the header, then copy out once; grow and retry when a
    // value does not fit (avsc returns a negative position then).
    let end = type.encode(value, encodeScratch.buffer, HEADER_BYTES);
    while (end < 0) {
      encodeScratch.buffer = Buffer.allocUnsafe(encodeScratch.buffer.length * 2);
      end = type.encode(value, encodeScratch.buffer, HEADER_BYTES);
    }
    const out = Buffer.allocUnsafe(end);
    encodeScratch.buffer.copy(out, HEADER_BYTES, HEADER_BYTES, end);
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeUInt32BE(id, 1);
    return out;
  }

  encodeKey<T extends AnyTopic>(topic: T, key: KeyOf<T>): Promise<Buffer> {
    return this.encode(topic.keySubject, topic.keySchema, key);
  }

  encodeValue<T extends AnyTopic>(topic: T, value: ValueInputOf<T>): Promise<Buffer> {
    return this.encode(topic.valueSubject, topic.valueSchema, value);
  }

  private async decode(
    subject: string,
    schema: avsc.Schema,
    buffer: Buffer | null,
  ): Promise<unknown> {
    if (!buffer || buffer.length === 0) {
      // Every record of these topics carries a payload: a null value is no deletion here.
      throw new UndecodableMessageError(
        `${subject}: no value (a tombstone or an empty record); every record carries Avro in Confluent wire format`,
      );
    }
    if (buffer.length < HEADER_BYTES || buffer.readUInt8(0) !== MAGIC_BYTE) {
      throw new UndecodableMessageError(
        `${subject}: not in Confluent wire format (magic byte 0 + schema id)`,
      );
    }
    const writerId = buffer.readUInt32BE(1);
    const cacheKey = `${subject}:${writerId}`;
    let pending = this.resolvers.get(cacheKey);
    if (!pending) {
      pending = (async () => {
        const reader = this.readerType(subject, schema);
        let writerSchema: avsc.Type;
        try {
          writerSchema = (await this.registry.getSchema(writerId)) as unknown as avsc.Type;
        } catch (error) {
          // Only "the registry has no such id" makes the message poison; an unreachable
          // registry is transient and the batch is retried.
          if (!isRegistryNotFound(error)) {
            throw new DependencyUnavailableError('registry', (error as Error).message, {
              cause: error,
            });
          }
          throw new UndecodableMessageError(
            `${subject}: unknown writer schema id ${writerId}: ${(error as Error).message}`,
          );
        }
        if (reader.equals(writerSchema)) return { reader, resolver: null, writer: writerSchema };
        try {
          return { reader, resolver: reader.createResolver(writerSchema), writer: writerSchema };
        } catch (error) {
          throw new UndecodableMessageError(
            `${subject}: writer schema ${writerId} cannot be read with this service's schema: ${(error as Error).message}`,
          );
        }
      })();
      pending.catch(() => this.resolvers.delete(cacheKey));
      this.resolvers.set(cacheKey, pending);
    }
    const { reader, resolver, writer } = await pending;
    const body = buffer.subarray(HEADER_BYTES);
    let value: unknown;
    try {
      value = resolver ? reader.fromBuffer(body, resolver) : reader.fromBuffer(body);
    } catch (error) {
      throw new UndecodableMessageError(
        `${subject}: Avro body does not decode: ${(error as Error).message}`,
      );
    }
    // The text rule (../text.ts), as at the HTTP edge: every consumer refuses the same message
    // for the same reason, so none acts on what another could not record.
    const text = scanDecodedText(value);
    if (text.illegal !== undefined) {
      throw new UndecodableMessageError(
        // The path quoted: a key that breaks the rule must not carry it into the dead letter.
        `${subject}: the string at ${JSON.stringify(text.illegal.path)} ${text.illegal.reason}`,
      );
    }
    // avsc decodes bytes that are not UTF-8 to U+FFFD without a word; such a body does not
    // encode back to itself. Checked only when a U+FFFD is there to explain. Without a resolver
    // the reader is the writer's schema, so the value already decoded is the writer's.
    if (text.replacementCharacter) {
      const asWritten = resolver === null ? value : writer.fromBuffer(body);
      if (!writer.toBuffer(asWritten).equals(body)) {
        throw new UndecodableMessageError(
          `${subject}: a string is not valid UTF-8 (it decodes to U+FFFD and does not encode back to the bytes sent)`,
        );
      }
    }
    return value;
  }

  async decodeKey<T extends AnyTopic>(topic: T, buffer: Buffer | null): Promise<KeyOf<T>> {
    return (await this.decode(topic.keySubject, topic.keySchema, buffer)) as KeyOf<T>;
  }

  async decodeValue<T extends AnyTopic>(topic: T, buffer: Buffer | null): Promise<ValueOf<T>> {
    return (await this.decode(topic.valueSubject, topic.valueSchema, buffer)) as ValueOf<T>;
  }
}

/**
 * The registry answered "no such subject, schema or id": a 404 (getSchema), which the client
 * rethrows as a bare ConfluentSchemaRegistryError from getRegistryIdBySchema.
 */
function isRegistryNotFound(error: unknown): boolean {
  const e = error as { status?: unknown; name?: unknown } | null;
  return e?.status === 404 || e?.name === 'ConfluentSchemaRegistryError';
}

/**
 * The registry answered and said no (a wrong password: 401, 403): asking again changes nothing.
 * A consumer still retries it (the message is not at fault); a start-up fails at once.
 */
function isRegistryRefusal(error: DependencyUnavailableError): boolean {
  const status = (error.cause as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Registers a schema under a subject through the Confluent REST API and returns its id.
 * The client library's `register` insists on named schemas, and keys are plain strings.
 * A URL gets its credentials and TLS from the environment.
 */
export async function registerSchema(
  registry: string | RegistryConnection,
  subject: string,
  schema: avsc.Schema,
  timeoutMs = 10_000,
): Promise<number> {
  const connection =
    typeof registry === 'string' ? registryConnection(registry, process.env) : registry;
  let response: { status: number; text: string };
  try {
    response = await registryRequest(
      connection,
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      { body: { schema: JSON.stringify(schema) }, timeoutMs },
    );
  } catch (error) {
    // No answer (refused, reset, timed out): the registry is away, not the schema wrong. A
    // consumer retries that instead of dead-lettering the message that needed the schema.
    throw new DependencyUnavailableError(
      'registry',
      `registering ${subject}: ${faultReason(error, 300)}`,
      {
        cause: error,
      },
    );
  }
  if (response.status >= 500) {
    throw new DependencyUnavailableError(
      'registry',
      `registering ${subject}: HTTP ${response.status}: ${response.text.slice(0, 300)}`,
    );
  }
  if (response.status < 200 || response.status >= 300) {
    throw Object.assign(
      new Error(`registry refused ${subject} (HTTP ${response.status}): ${response.text}`),
      { status: response.status },
    );
  }
  return (JSON.parse(response.text) as { id: number }).id;
}

export type { TopicDefinition };
