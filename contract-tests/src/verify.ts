// Provider side of the pacts. For every message interaction of every pact naming the provider,
// the provider's real code builds the event (a scenario per provider state), then the event
// goes through Avro exactly as on the wire: encoded with the writer's schema (the topic's
// generated schema, or a changed copy in the breakage tests), decoded with the consumer's reader
// schema through a resolver, converted to the pact's JSON form, and handed to the Pact verifier.
// An event the Avro contract cannot carry fails before Pact looks at it, naming the field. HTTP
// interactions are answered by the provider's running service (http-verify.ts).
import type avsc from 'avsc';
import { MessageProviderPact } from '@pact-foundation/pact';
import { avroType } from '@ledgerline/platform/avro';
import type { AnyTopic } from '@ledgerline/platform/events/topic';
import { allTopics } from '@ledgerline/generated/topics';
import { explainResolution, invalidPaths, toPactJson } from './avro-json.js';
import type { ProducedMessage } from './capture.js';
import {
  resultOf,
  verifyHttpInteractions,
  type HttpProviderDefinition,
  type ResponseChange,
} from './http-verify.js';
import { parseVerifierJson, problemsOfInteraction, type VerifierJson } from './verifier-json.js';
import {
  loadPacts,
  providerHash,
  VERIFICATION_DIR,
  writeFileAtomic,
  type LoadedPact,
} from './files.js';
import path from 'node:path';

export type Scenario = () => Promise<ProducedMessage>;

export interface ProviderDefinition {
  readonly name: string;
  /** Provider state -> the one message the provider's real code builds in that situation. */
  readonly scenarios: Readonly<Record<string, Scenario>>;
  /** The provider's HTTP API, for pacts with HTTP interactions (its running service answers). */
  readonly http?: HttpProviderDefinition;
}

export interface InteractionVerification {
  readonly description: string;
  readonly state: string;
  readonly topic: string;
  readonly verified: boolean;
  readonly problems: string[];
}

export interface PactVerification {
  readonly consumer: string;
  readonly provider: string;
  readonly pactFile: string;
  readonly pactHash: string;
  readonly interactions: InteractionVerification[];
}

export interface ProviderVerification {
  readonly provider: string;
  readonly providerHash: string;
  readonly pacts: PactVerification[];
}

export interface VerifyOptions {
  /** Only these consumers' pacts. */
  readonly consumers?: readonly string[];
  /** Pact directory (default pacts/). */
  readonly pactDir?: string;
  /** The writer schema the provider encodes with, by topic (default: the generated one). */
  readonly writerSchema?: (topic: string) => avsc.Schema | undefined;
  /** Changes the built event before encoding (breakage tests: "the provider changed"). */
  readonly mutate?: (topic: string, value: unknown) => unknown;
  /** Changes the service's JSON answers to HTTP interactions (breakage tests). */
  readonly changeResponse?: ResponseChange;
  /** Record the result in pacts/verifications/<provider>.json (provider tests and the gate). */
  readonly record?: boolean;
}

const topicsByName = new Map<string, AnyTopic>(
  (allTopics as readonly AnyTopic[]).map((t) => [t.name, t]),
);

export function topicNamed(name: string): AnyTopic {
  const topic = topicsByName.get(name);
  if (topic === undefined) throw new Error(`no topic ${name} in contracts/topics.yaml`);
  return topic;
}

/**
 * The schema a consumer decodes a topic with. Every service reads with the generated schema of
 * its own checkout, which in this monorepo is the same for all; a consumer that pins an older
 * schema would return it here.
 */
export function readerSchemaFor(_consumer: string, topic: string): avsc.Schema {
  return topicNamed(topic).valueSchema;
}

/** Encodes with the writer's schema, decodes with the reader's: the wire, without Kafka. */
export function throughAvro(
  produced: ProducedMessage,
  readerSchema: avsc.Schema,
  writerSchema: avsc.Schema = produced.topic.valueSchema,
): { key: unknown; value: unknown } {
  const writer = avroType(writerSchema);
  const invalid = invalidPaths(writer, produced.value);
  if (invalid.length > 0) {
    throw new Error(`the event does not encode under the writer schema: ${invalid.join('; ')}`);
  }
  const body = writer.toBuffer(produced.value);
  const reader = avroType(readerSchema);
  let value: unknown;
  if (reader.equals(writer)) {
    value = reader.fromBuffer(body);
  } else {
    let resolver: avsc.Resolver;
    try {
      resolver = reader.createResolver(writer);
    } catch {
      const why = explainResolution(reader, writer).join('; ');
      throw new Error(`the reader schema cannot read the writer schema: ${why}`);
    }
    value = reader.fromBuffer(body, resolver);
  }
  const keyType = avroType(produced.topic.keySchema);
  const key = keyType.fromBuffer(keyType.toBuffer(produced.key));
  return { key, value };
}

async function verifyPact(
  definition: ProviderDefinition,
  loaded: LoadedPact,
  options: VerifyOptions,
): Promise<PactVerification> {
  const consumer = loaded.pact.consumer.name;
  const messages = loaded.pact.messages ?? [];
  const avroProblems = new Map<string, string[]>();
  const problem = (description: string, text: string) =>
    avroProblems.set(description, [...(avroProblems.get(description) ?? []), text]);

  const messageProviders: Record<string, (m: unknown) => Promise<unknown>> = {};
  for (const message of messages) {
    messageProviders[message.description] = async () => {
      const state = message.providerStates?.[0]?.name ?? '';
      const scenario = definition.scenarios[state];
      if (scenario === undefined) {
        problem(message.description, `${definition.name} has no scenario for state "${state}"`);
        return { __pactMessageMetadata: {}, message: {} };
      }
      try {
        const produced = await scenario();
        const topic = produced.topic.name;
        const value = options.mutate ? options.mutate(topic, produced.value) : produced.value;
        const wire = throughAvro(
          { ...produced, value },
          readerSchemaFor(consumer, topic),
          options.writerSchema?.(topic) ?? produced.topic.valueSchema,
        );
        return {
          __pactMessageMetadata: { topic, key: String(wire.key) },
          message: toPactJson(wire.value),
        };
      } catch (error) {
        problem(message.description, (error as Error).message);
        return { __pactMessageMetadata: {}, message: {} };
      }
    };
  }

  let json: VerifierJson | undefined;
  let crash: string | undefined;
  if (messages.length > 0) {
    try {
      const out = await new MessageProviderPact({
        provider: definition.name,
        pactUrls: [loaded.file],
        messageProviders,
        logLevel: 'error',
      }).verify();
      json = parseVerifierJson(String(out));
    } catch (error) {
      json = parseVerifierJson((error as Error).message);
      if (json === undefined) crash = (error as Error).message;
    }
  }

  const interactions: InteractionVerification[] = messages.map((message) => {
    const avro = avroProblems.get(message.description);
    // The Avro problems usually explain Pact's mismatches: they come alone.
    const problems =
      avro === undefined
        ? problemsOfInteraction(json, message.description, crash)
        : [...avro, ...(crash === undefined ? [] : [`the Pact verifier did not run: ${crash}`])];
    return {
      description: message.description,
      state: message.providerStates?.[0]?.name ?? '',
      topic: String(message.metadata?.['topic'] ?? ''),
      verified: problems.length === 0,
      problems,
    };
  });
  if ((loaded.pact.interactions ?? []).length > 0) {
    const http =
      definition.http === undefined
        ? (loaded.pact.interactions ?? []).map((i) =>
            resultOf(i, [`${definition.name} has no HTTP provider definition (providers/)`]),
          )
        : await verifyHttpInteractions(definition.http, loaded, options.changeResponse);
    for (const result of http) {
      interactions.push({
        description: result.description,
        state: result.state,
        topic: `HTTP ${result.request}`,
        verified: result.problems.length === 0,
        problems: result.problems,
      });
    }
  }
  return {
    consumer,
    provider: definition.name,
    pactFile: path.basename(loaded.file),
    pactHash: loaded.hash,
    interactions,
  };
}

/** Verifies every pact that names `definition` as provider. */
export async function verifyProvider(
  definition: ProviderDefinition,
  options: VerifyOptions = {},
): Promise<ProviderVerification> {
  const hash = providerHash(definition.name);
  const pacts = loadPacts(options.pactDir).filter(
    (p) =>
      p.pact.provider.name === definition.name &&
      (options.consumers === undefined || options.consumers.includes(p.pact.consumer.name)),
  );
  const results: PactVerification[] = [];
  // One at a time: the Pact verifier is a native library with process-wide state.
  for (const loaded of pacts) results.push(await verifyPact(definition, loaded, options));
  const verification = { provider: definition.name, providerHash: hash, pacts: results };
  if (options.record === true) {
    writeFileAtomic(
      path.join(VERIFICATION_DIR, `${definition.name}.json`),
      `${JSON.stringify(verification, null, 2)}\n`,
    );
  }
  return verification;
}

/** One line per failing interaction: consumer, provider, interaction, topic, what broke. */
export function failures(verification: ProviderVerification): string[] {
  return verification.pacts.flatMap((pact) =>
    pact.interactions
      .filter((i) => !i.verified)
      .map(
        (i) =>
          `consumer ${pact.consumer}'s pact with ${pact.provider}: interaction ` +
          `"${i.description}" (${i.topic}) fails: ${i.problems.join('; ')}`,
      ),
  );
}
