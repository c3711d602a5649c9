// Cross-checks beyond Pact: every message interaction against its topic's Avro schema, every
// HTTP interaction against the provider's OpenAPI document (the same validator the providers
// run on their own requests and responses).
import { avroType } from '@ledgerline/platform/avro';
import { ContractValidator } from '@ledgerline/platform/http/validation';
import { apiContracts } from '@ledgerline/generated/openapi/contracts';
import { completeValue, fromPactJson, invalidPaths, toPactJson } from './avro-json.js';
import type { PactHttpInteraction, PactMessage } from './files.js';
import { operationOf } from './operations.js';
import { topicNamed } from './verify.js';

/** Problems of one message interaction under its topic's Avro schema (empty when it fits). */
export function checkMessageAgainstAvro(message: PactMessage): string[] {
  const topicName = message.metadata?.['topic'];
  if (typeof topicName !== 'string') return ['the message names no topic in its metadata'];
  let topic;
  try {
    topic = topicNamed(topicName);
  } catch (error) {
    return [(error as Error).message];
  }
  const problems: string[] = [];
  const keyType = avroType(topic.keySchema);
  const key = message.metadata?.['key'];
  if (!keyType.isValid(key)) problems.push(`key ${JSON.stringify(key)} is not a valid key`);
  const type = avroType(topic.valueSchema);
  let partial: unknown;
  try {
    // The example Pact builds from the matchers, in the pact's JSON representation.
    partial = fromPactJson(type, message.contents);
  } catch (error) {
    return [...problems, (error as Error).message];
  }
  // Fields the consumer does not state get neutral fillers: what it does state must encode.
  const full = completeValue(type, partial);
  problems.push(...invalidPaths(type, full));
  if (problems.length === 0) {
    const decoded = type.fromBuffer(type.toBuffer(full));
    if (JSON.stringify(toPactJson(decoded)) !== JSON.stringify(toPactJson(full))) {
      problems.push('does not survive an Avro round trip');
    }
  }
  return problems;
}

function header(headers: Record<string, string | string[]> | undefined, name: string) {
  const entry = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return Array.isArray(entry?.[1]) ? entry[1].join(', ') : entry?.[1];
}

/**
 * The document as a pact's response is held to: a pact states only the response fields its
 * consumer reads (and one example element per array), so every schema's `required` list and
 * `minItems` bound are taken out; and what it states must be in the contract, so an object
 * schema that lists its properties admits no others (the services may add fields; a consumer
 * that relies on one the contract does not declare has drifted). Examples are left as they are.
 */
function partialDocument(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(partialDocument);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value)
    .filter(([key, inner]) => !(key === 'required' && Array.isArray(inner)) && key !== 'minItems')
    .map(([key, inner]) => [
      key,
      key === 'example' || key === 'examples' ? inner : partialDocument(inner),
    ]);
  const closed =
    typeof (value as { properties?: unknown }).properties === 'object' &&
    !('additionalProperties' in value);
  return Object.fromEntries(closed ? [...entries, ['additionalProperties', false]] : entries);
}

/**
 * Each provider's validators, compiled once: the document as it is, and as a pact's response is
 * held to it.
 */
const validators = new Map<string, { whole: ContractValidator; partial: ContractValidator }>();

/** Problems of one HTTP interaction under the provider's OpenAPI document. */
export function checkHttpAgainstOpenApi(provider: string, http: PactHttpInteraction): string[] {
  const api = apiContracts.find((c) => c.service === provider);
  if (api === undefined) return [`${provider} has no OpenAPI document`];
  const found = operationOf(provider, http.request.method, http.request.path);
  if (found === undefined) {
    return [`${http.request.method} ${http.request.path} is not an operation of ${provider}`];
  }
  let compiled = validators.get(provider);
  if (compiled === undefined) {
    compiled = {
      whole: new ContractValidator(api.document),
      partial: new ContractValidator(partialDocument(api.document) as typeof api.document),
    };
    validators.set(provider, compiled);
  }
  // The request is the consumer's whole request: the document as it is.
  const { whole: validator, partial } = compiled;
  const problems: string[] = [];
  const body = http.request.body;
  try {
    validator.validateRequest(found.operation, {
      params: found.params,
      query: Object.fromEntries(
        Object.entries(http.request.query ?? {}).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
      ),
      headers: Object.fromEntries(
        Object.entries(http.request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      rawBody:
        body === undefined
          ? undefined
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      contentType: header(http.request.headers, 'content-type') ?? 'application/json',
    });
  } catch (error) {
    const fields = (error as { problem?: { errors?: { pointer: string; message: string }[] } })
      .problem?.errors;
    const detail = fields?.map((e) => `${e.pointer} ${e.message}`).join('; ');
    problems.push(`request: ${(error as Error).message}${detail ? ` (${detail})` : ''}`);
  }
  if (http.response.body === undefined) {
    // The pact relies on the status alone: it must be one the operation answers.
    if (!validator.declaresStatus(found.operation, http.response.status)) {
      problems.push(`response: status ${http.response.status} is not in the contract`);
    }
    return problems;
  }
  try {
    partial.validateResponse(found.operation, {
      status: http.response.status,
      body: http.response.body,
    });
  } catch (error) {
    problems.push(`response: ${(error as Error).message}`);
  }
  return problems;
}
