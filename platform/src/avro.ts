// Avro runtime options shared by the generator, the serde and the tests. The generated
// TypeScript types describe exactly what avsc decodes with these options, so they live in
// one place: change them here and the generator follows.
import avsc from 'avsc';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `timestamp-millis` decodes to a `Date` and encodes from one. A long outside the range a
 * `Date` can hold (±8.64e15 ms) does not decode: an Invalid Date would reach SQL or JSON.
 */
class TimestampMillisType extends avsc.types.LogicalType {
  override _fromValue(value: unknown): Date {
    const date = new Date(value as number);
    if (Number.isNaN(date.getTime())) {
      throw new Error(`timestamp-millis ${String(value)} is not a representable instant`);
    }
    return date;
  }
  override _toValue(value: unknown): number | undefined {
    return value instanceof Date ? value.getTime() : undefined;
  }
  override _resolve(type: avsc.Type): ((value: unknown) => unknown) | undefined {
    if (avsc.Type.isType(type, 'long', 'logical:timestamp-millis')) {
      return this._fromValue.bind(this);
    }
    return undefined;
  }
}

/**
 * `uuid` stays a string, but nothing that is not a UUID is ever written or read: a value that
 * is valid Avro `string` but no UUID fails decoding, so it never reaches a `uuid` column.
 */
class UuidType extends avsc.types.LogicalType {
  override _fromValue(value: unknown): string {
    if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
      throw new Error(`uuid field holds ${JSON.stringify(String(value).slice(0, 64))}, not a UUID`);
    }
    return value;
  }
  override _toValue(value: unknown): string | undefined {
    return typeof value === 'string' && UUID_PATTERN.test(value) ? value : undefined;
  }
  override _resolve(type: avsc.Type): ((value: unknown) => unknown) | undefined {
    if (avsc.Type.isType(type, 'string', 'logical:uuid')) {
      return this._fromValue.bind(this);
    }
    return undefined;
  }
}

/**
 * Largest amount that an Avro `long` carries through avsc without loss: avsc refuses values
 * beyond ±(2^53 − 2) rather than round them, and so do we.
 */
export const AVRO_LONG_SAFE_MAX = 9_007_199_254_740_990;

/** Options for every `avsc.Type.forSchema` call in Ledgerline. */
export const avroTypeOptions: Partial<avsc.ForSchemaOptions> = {
  logicalTypes: { 'timestamp-millis': TimestampMillisType, uuid: UuidType },
  // A union is wrapped ({ "full.Name": value }) only when avsc cannot tell its branches apart
  // (for example two records); `["null", T]` stays `T | null`. The generator mirrors this.
  wrapUnions: 'auto',
};

/** Parses a self-contained schema with Ledgerline's runtime options. */
export function avroType(schema: avsc.Schema): avsc.Type {
  return avsc.Type.forSchema(schema, { ...avroTypeOptions, registry: {} });
}
