// Decoding a dead letter's original value for the operator: Confluent wire format (magic byte
// 0, 4-byte schema id, Avro binary), the writer's schema fetched from the registry by id.
// A dead letter is often exactly the record that does not decode: the answer then says why,
// with the bytes' head, instead of failing.
import avsc from 'avsc';
import { registryRequest, type RegistryConnection } from '@ledgerline/platform/transport-security';

export interface DecodedValue {
  schemaId: number | null;
  /** The value as Avro's JSON encoding; null when it did not decode. */
  value: unknown;
  error: string | null;
}

const HEAD_BYTES = 32;

function undecodable(bytes: Buffer, schemaId: number | null, why: string): DecodedValue {
  const head = bytes.subarray(0, HEAD_BYTES).toString('hex');
  return {
    schemaId,
    value: null,
    error: `${why} (${bytes.length} bytes, first ${Math.min(bytes.length, HEAD_BYTES)}: ${head})`,
  };
}

export function createValueDecoder(registry: RegistryConnection) {
  const types = new Map<number, Promise<avsc.Type>>();
  const typeOf = (id: number) => {
    let type = types.get(id);
    if (type === undefined) {
      type = registryRequest(registry, 'GET', `/schemas/ids/${id}`, {
        timeoutMs: 10_000,
      }).then((answer) => {
        if (answer.status !== 200)
          throw new Error(`the registry has no schema ${id} (HTTP ${answer.status})`);
        const { schema } = JSON.parse(answer.text) as { schema: string };
        return avsc.Type.forSchema(JSON.parse(schema) as avsc.Schema);
      });
      type.catch(() => types.delete(id));
      types.set(id, type);
    }
    return type;
  };
  return async function decode(base64: string): Promise<DecodedValue> {
    const bytes = Buffer.from(base64, 'base64');
    if (bytes.length < 5 || bytes[0] !== 0)
      return undecodable(
        bytes,
        null,
        'not in Confluent wire format (magic byte 0 and a schema id)',
      );
    const schemaId = bytes.readInt32BE(1);
    let type: avsc.Type;
    try {
      type = await typeOf(schemaId);
    } catch (error) {
      return undecodable(bytes, schemaId, (error as Error).message);
    }
    try {
      const { value, offset } = type.decode(bytes, 5);
      // avsc answers -1 rather than throwing when the bytes end before the value does.
      if (offset < 0)
        return undecodable(
          bytes,
          schemaId,
          `schema ${schemaId} cannot read it: the bytes end early`,
        );
      if (offset !== bytes.length)
        return undecodable(
          bytes,
          schemaId,
          `schema ${schemaId} does not read these bytes to their end`,
        );
      return { schemaId, value: JSON.parse(type.toString(value)) as unknown, error: null };
    } catch (error) {
      return undecodable(
        bytes,
        schemaId,
        `schema ${schemaId} cannot read it: ${(error as Error).message}`,
      );
    }
  };
}
