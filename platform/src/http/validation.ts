// Requests and responses are checked against the same OpenAPI document the clients are
// generated from: a provider cannot drift from its contract without failing loudly.
import type { IncomingHttpHeaders } from 'node:http';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { OpenApiDocument, OpenApiOperation } from './openapi.js';
import { firstDuplicateMember, pointerToken } from './json-members.js';
import { ProblemError, problems } from './problem.js';
import { illegalTextReason } from '../text.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

interface CompiledOperation {
  pathParams?: ValidateFunction;
  query?: ValidateFunction;
  headers?: ValidateFunction;
  headerNames: string[];
  /** Parameters whose schema is a number: their text must be one before it is coerced. */
  numericParams: NumericParameter[];
  body?: { required: boolean; mediaTypes: string[]; json?: ValidateFunction };
  responses: Map<string, { mediaType?: string; validate?: ValidateFunction }>;
}

interface NumericParameter {
  readonly location: 'path' | 'query' | 'header';
  /** As the request carries it: header names lowercased. */
  readonly name: string;
  readonly integer: boolean;
}

// Decimal digits only, as a number is written in JSON. The coercing validator would otherwise
// read Number(text): "0x10" as 16, "1e1" as 10, " 1" as 1, "" as 0.
const INTEGER_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER_TEXT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** The numeric parameters of `values` that are not written as numbers are, as errors. */
function numberTextErrors(
  numericParams: readonly NumericParameter[],
  values: Record<'path' | 'query' | 'header', Record<string, unknown>>,
): { pointer: string; message: string }[] {
  const errors: { pointer: string; message: string }[] = [];
  for (const { location, name, integer } of numericParams) {
    const value = values[location][name];
    if (typeof value !== 'string') continue; // absent, or repeated: the schema says what is wrong
    if (!(integer ? INTEGER_TEXT : NUMBER_TEXT).test(value))
      errors.push({
        pointer: `/${location === 'header' ? 'headers' : location}/${pointerToken(name)}`,
        message: integer ? 'must be an integer in decimal digits' : 'must be a decimal number',
      });
  }
  return errors;
}

function newAjv(coerce: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    strict: false,
    allErrors: true,
    coerceTypes: coerce,
    // Query and header defaults from the contract apply (e.g. limit=50).
    useDefaults: coerce,
    validateSchema: false,
    validateFormats: true,
  });
  addFormats(ajv);
  // Canonical UUIDs only (ajv-formats also takes "urn:uuid:..." forms).
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  // RFC 3339 allows a leap second (23:59:60), which no JavaScript Date can hold: handlers would
  // read it as an invalid date (an outside-the-contract 500). Refused here as not a date-time.
  const dateTime = fullFormats['date-time'] as { validate: (text: string) => boolean };
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (text: string) => dateTime.validate(text) && Number.isFinite(Date.parse(text)),
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31,
  });
  return ajv;
}

function toErrors(
  errors: ErrorObject[] | null | undefined,
  prefix: string,
): { pointer: string; message: string }[] {
  return (errors ?? []).map((e) => {
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return {
        pointer: `${prefix}${e.instancePath}/${pointerToken(extra)}`,
        message: `unknown field "${extra}"`,
      };
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return {
        pointer: `${prefix}${e.instancePath}/${pointerToken(missing)}`,
        message: `"${missing}" is required`,
      };
    }
    return { pointer: `${prefix}${e.instancePath}`, message: e.message ?? 'is not valid' };
  });
}

// ---------------------------------------------------------------------------------------------
// The text rule (../text.ts) over a JSON body: every string a client sends, member names
// included. JSON escapes (\u0000, \ud800) and percent-encoding (%00) both reach us as such
// strings; raw NUL bytes in a header never do (Node's parser refuses them).

/** At most this many offending strings are named in one problem. */
const TEXT_ERRORS_MAX = 20;

/**
 * Every string in `value` (member names included) that breaks the text rule, as JSON pointers
 * under `prefix`. Iterative, so a deeply nested body cannot overflow the stack; the body limit
 * bounds the walk, TEXT_ERRORS_MAX bounds the answer.
 */
export function illegalTextErrors(
  value: unknown,
  prefix: string,
): { pointer: string; message: string }[] {
  const errors: { pointer: string; message: string }[] = [];
  const pending: { node: unknown; pointer: string }[] = [{ node: value, pointer: prefix }];
  while (pending.length > 0 && errors.length < TEXT_ERRORS_MAX) {
    const { node, pointer } = pending.pop()!;
    if (typeof node === 'string') {
      const reason = illegalTextReason(node);
      if (reason) errors.push({ pointer, message: reason });
    } else if (Array.isArray(node)) {
      node.forEach((item, index) => pending.push({ node: item, pointer: `${pointer}/${index}` }));
    } else if (node !== null && typeof node === 'object') {
      for (const [name, item] of Object.entries(node)) {
        const memberPointer = `${pointer}/${pointerToken(name)}`;
        const reason = illegalTextReason(name);
        if (reason) errors.push({ pointer: memberPointer, message: `the member name ${reason}` });
        else pending.push({ node: item, pointer: memberPointer });
      }
    }
  }
  // The stack visits members last-first; sort so that the same request always reads the same.
  return errors.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

// Bodies are UTF-8 (RFC 8259, and the contracts' text/csv): a byte sequence that is not, such as
// a surrogate encoded as if it were a character (ED A0 80), is refused rather than silently
// turned into U+FFFD and stored.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Text-rule errors of one text/* body, each naming its 1-based line. */
function illegalTextLines(text: string): { pointer: string; line: number; message: string }[] {
  const errors: { pointer: string; line: number; message: string }[] = [];
  if (illegalTextReason(text) === undefined) return errors;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length && errors.length < TEXT_ERRORS_MAX; index++) {
    const reason = illegalTextReason(lines[index]!);
    if (reason)
      errors.push({ pointer: '/body', line: index + 1, message: `line ${index + 1} ${reason}` });
  }
  return errors;
}

/**
 * The charset parameter of a Content-Type, lowercased and unquoted; undefined when there is none.
 * Bodies are read as UTF-8 (RFC 8259 §8.1 for JSON), so a client that says it sent another
 * encoding is told so rather than read as if it had sent UTF-8.
 */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(';').slice(1)) {
    const [name, ...value] = parameter.split('=');
    if (name?.trim().toLowerCase() === 'charset')
      return value
        .join('=')
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
  }
  return undefined;
}

/** A client's text quoted back in a problem's detail, bounded. */
const shortened = (text: string): string => (text.length > 64 ? `${text.slice(0, 64)}…` : text);

export class ContractValidator {
  private readonly strict = newAjv(false);
  private readonly coercing = newAjv(true);
  private readonly compiled = new Map<string, CompiledOperation>();

  constructor(private readonly document: OpenApiDocument) {
    this.strict.addSchema({ ...document, $id: 'api' });
    this.coercing.addSchema({ ...document, $id: 'api' });
  }

  private resolve<T>(node: unknown): T {
    let current = node as Json;
    for (let depth = 0; depth < 10 && current && typeof current['$ref'] === 'string'; depth++) {
      const ref = current['$ref'] as string;
      current = ref
        .slice(2)
        .split('/')
        .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<unknown>((n, t) => (n as Json)?.[t], this.document) as Json;
    }
    return current as T;
  }

  private compile(operation: OpenApiOperation): CompiledOperation {
    const key = `${operation.method} ${operation.path}`;
    const cached = this.compiled.get(key);
    if (cached) return cached;
    const pathItem = (this.document['paths'] as Json)[operation.path] as Json;
    const op = pathItem[operation.method.toLowerCase()] as Json;
    const params = [
      ...((pathItem['parameters'] as unknown[]) ?? []),
      ...((op['parameters'] as unknown[]) ?? []),
    ].map((p) => this.resolve<ParameterObject>(p));
    const objectSchema = (
      location: ParameterObject['in'],
      additional: boolean,
    ): Json | undefined => {
      const list = params.filter((p) => p.in === location);
      if (list.length === 0 && additional) return undefined;
      return {
        type: 'object',
        properties: Object.fromEntries(
          list.map((p) => [location === 'header' ? p.name.toLowerCase() : p.name, p.schema ?? {}]),
        ),
        required: list
          .filter((p) => p.required || location === 'path')
          .map((p) => (location === 'header' ? p.name.toLowerCase() : p.name)),
        additionalProperties: additional,
      };
    };
    // Schemas reference #/components/...: compile them inside the document's scope.
    const compileIn = (ajv: Ajv2020, schema: Json | undefined): ValidateFunction | undefined => {
      if (!schema) return undefined;
      return ajv.compile({ allOf: [this.rebase(schema)] });
    };
    const compiled: CompiledOperation = {
      pathParams: compileIn(this.coercing, objectSchema('path', false)),
      query: compileIn(this.coercing, objectSchema('query', false)),
      headers: compileIn(this.coercing, objectSchema('header', true)),
      headerNames: params.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()),
      numericParams: params.flatMap((p): NumericParameter[] => {
        const type = this.resolve<Json | undefined>(p.schema)?.['type'];
        if (p.in === 'cookie' || (type !== 'integer' && type !== 'number')) return [];
        const name = p.in === 'header' ? p.name.toLowerCase() : p.name;
        return [{ location: p.in, name, integer: type === 'integer' }];
      }),
      responses: new Map(),
    };
    const requestBody = op['requestBody'] ? this.resolve<Json>(op['requestBody']) : undefined;
    if (requestBody) {
      const content = (requestBody['content'] ?? {}) as Record<string, Json>;
      const jsonMedia = content['application/json'];
      compiled.body = {
        required: requestBody['required'] === true,
        mediaTypes: Object.keys(content),
        json: compileIn(this.strict, jsonMedia?.['schema'] as Json | undefined),
      };
    }
    for (const [status, raw] of Object.entries((op['responses'] ?? {}) as Json)) {
      const response = this.resolve<Json>(raw);
      const content = (response['content'] ?? {}) as Record<string, Json>;
      const mediaType = Object.keys(content)[0];
      const schema = mediaType ? content[mediaType]?.['schema'] : undefined;
      compiled.responses.set(status, {
        mediaType,
        validate: mediaType?.includes('json')
          ? compileIn(this.strict, schema as Json | undefined)
          : undefined,
      });
    }
    this.compiled.set(key, compiled);
    return compiled;
  }

  /** Rewrites local refs (#/components/...) to refs into the registered document (api#/...). */
  private rebase(schema: Json): Json {
    const walk = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(walk);
      if (!node || typeof node !== 'object') return node;
      const out: Json = {};
      for (const [k, v] of Object.entries(node)) {
        if (v === undefined) continue;
        out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `api${v}` : walk(v);
      }
      return out;
    };
    return walk(schema) as Json;
  }

  validateRequest(
    operation: OpenApiOperation,
    input: {
      params: Record<string, string>;
      query: Record<string, unknown>;
      headers: IncomingHttpHeaders;
      rawBody: Buffer | undefined;
      contentType: string | undefined;
    },
  ): { params: Record<string, string>; query: Record<string, unknown>; body: unknown } {
    const compiled = this.compile(operation);
    const errors: { pointer: string; message: string; line?: number }[] = [];
    const params = { ...input.params };
    const query = { ...input.query };
    const headers: Record<string, unknown> = {};
    for (const name of compiled.headerNames)
      if (input.headers[name] !== undefined) headers[name] = input.headers[name];
    // The text rule sees what the client sent, before the schemas coerce anything.
    errors.push(
      ...illegalTextErrors(params, '/path'),
      ...illegalTextErrors(query, '/query'),
      ...illegalTextErrors(headers, '/headers'),
    );
    errors.push(
      ...numberTextErrors(compiled.numericParams, { path: params, query, header: headers }),
    );
    if (compiled.pathParams && !compiled.pathParams(params))
      errors.push(...toErrors(compiled.pathParams.errors, '/path'));
    if (compiled.query && !compiled.query(query))
      errors.push(...toErrors(compiled.query.errors, '/query'));
    if (compiled.headers && !compiled.headers(headers))
      errors.push(...toErrors(compiled.headers.errors, '/headers'));
    let body: unknown = undefined;
    if (compiled.body) {
      if (!input.rawBody) {
        if (compiled.body.required)
          errors.push({ pointer: '/body', message: 'a request body is required' });
      } else {
        const mediaType = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (!compiled.body.mediaTypes.includes(mediaType)) {
          throw new ProblemError(
            415,
            'unsupported-media-type',
            'Unsupported media type',
            `Send ${compiled.body.mediaTypes.join(' or ')}.`,
          );
        }
        const charset = charsetOf(input.contentType ?? '');
        if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
          throw new ProblemError(
            415,
            'unsupported-media-type',
            'Unsupported media type',
            `Send ${mediaType} in UTF-8: charset=${shortened(charset)} is not read.`,
          );
        }
        if (mediaType === 'application/json') {
          const text = decodeUtf8(input.rawBody);
          if (text === undefined)
            throw new ProblemError(
              400,
              'malformed-body',
              'Malformed JSON',
              'The body is not valid UTF-8.',
            );
          try {
            body = JSON.parse(text);
          } catch (error) {
            throw new ProblemError(
              400,
              'malformed-body',
              'Malformed JSON',
              `The body is not valid JSON: ${(error as Error).message}`,
            );
          }
          const duplicate = firstDuplicateMember(text);
          if (duplicate !== undefined)
            throw new ProblemError(
              400,
              'malformed-body',
              'Malformed JSON',
              `The body names the member ${JSON.stringify(shortened(duplicate.name))} more than once; member names must be unique.`,
              { errors: [{ pointer: duplicate.pointer, message: 'names a member already named' }] },
            );
          errors.push(...illegalTextErrors(body, ''));
          if (compiled.body.json && !compiled.body.json(body))
            errors.push(...toErrors(compiled.body.json.errors, ''));
        } else {
          const text = decodeUtf8(input.rawBody);
          if (text === undefined) errors.push({ pointer: '/body', message: 'is not valid UTF-8' });
          else errors.push(...illegalTextLines(text));
          body = text;
        }
      }
    } else if (input.rawBody && input.rawBody.length > 0) {
      errors.push({ pointer: '/body', message: 'this operation takes no request body' });
    }
    if (errors.length > 0) throw problems.validation(errors);
    return { params, query, body };
  }

  /** Does the operation declare an answer with this status (exactly, by its class, or default)? */
  declaresStatus(operation: OpenApiOperation, status: number): boolean {
    return this.responseFor(operation, status) !== undefined;
  }

  private responseFor(operation: OpenApiOperation, status: number) {
    const compiled = this.compile(operation);
    return (
      compiled.responses.get(String(status)) ??
      compiled.responses.get(`${String(status)[0]}XX`) ??
      compiled.responses.get('default')
    );
  }

  validateResponse(
    operation: OpenApiOperation,
    response: { status: number; body?: unknown },
  ): void {
    const entry = this.responseFor(operation, response.status);
    if (!entry)
      throw new Error(`${operation.operationId}: status ${response.status} is not in the contract`);
    if (entry.validate && !entry.validate(response.body)) {
      const detail = toErrors(entry.validate.errors, '')
        .map((e) => `${e.pointer || '/'} ${e.message}`)
        .join('; ');
      throw new Error(
        `${operation.operationId}: response ${response.status} does not match the contract: ${detail}`,
      );
    }
  }
}
