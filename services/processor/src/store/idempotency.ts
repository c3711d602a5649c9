// Idempotency records: the first response to a key is stored with the request's fingerprint
// in the same transaction as the effect, so "key exists" and "effect exists" are one fact.
import { z } from 'zod';
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly location: string;
}

export interface IdempotencyRecord {
  readonly requestHash: string;
  readonly response: StoredResponse;
}

const idempotencyRow = z.object({
  request_hash: z.string().regex(/^[0-9a-f]{64}$/, 'a stored request hash is sha256 hex'),
  response_status: z.number().int(),
  response_body: z.unknown(),
  response_location: z.string(),
});

/**
 * Inserts the record unless the key exists. A concurrent transaction holding the same key
 * uncommitted makes this wait for it (bounded by the caller's lock_timeout), then report the
 * conflict: exactly one request per key ever gets `true`.
 */
export async function insertIdempotencyRecord(
  db: PgQueryable,
  scope: string,
  key: string,
  record: IdempotencyRecord,
): Promise<boolean> {
  const { rowCount } = await queryIn(
    db,
    sql.unsafe`INSERT INTO processor.idempotency_keys
       (scope, key, request_hash, response_status, response_body, response_location)
     VALUES (${scope}, ${key}, ${record.requestHash}, ${record.response.status},
             ${JSON.stringify(record.response.body)}::json, ${record.response.location})
     ON CONFLICT (scope, key) DO NOTHING`,
  );
  return rowCount === 1;
}

export async function findIdempotencyRecord(
  db: PgQueryable,
  scope: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await queryIn(
    db,
    sql.type(idempotencyRow)`
     SELECT request_hash, response_status, response_body, response_location
     FROM processor.idempotency_keys WHERE scope = ${scope} AND key = ${key}`,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    requestHash: row.request_hash,
    response: {
      status: row.response_status,
      body: row.response_body,
      location: row.response_location,
    },
  };
}
