// Commands accepted by the API (ledger.api_commands): what GET /v1/commands/{id} shows before
// and after the consumer decides them. Written in the transaction that puts the command's
// LedgerCommand into the outbox.
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
import type { LedgerCommandInput } from '@ledgerline/generated/avro/types';
import type { components } from '@ledgerline/generated/openapi/ledger.types';

export type ApiCommandType = components['schemas']['CommandStatus']['type'];

/** The adjustment a command carries, with the key and fingerprint its idempotency rests on. */
export interface CommandAdjustment {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly fingerprint: string;
}

export async function insertApiCommand(
  client: PgQueryable,
  command: LedgerCommandInput,
  type: ApiCommandType,
  request: unknown,
  adjustment: CommandAdjustment | null,
): Promise<void> {
  await queryIn(
    client,
    sql.unsafe`INSERT INTO ledger.api_commands (command_id, type, account_id, idempotency_key,
         request_fingerprint, adjustment_id, request, accepted_at)
       VALUES (${command.commandId}, ${type}, ${command.accountId},
         ${adjustment?.idempotencyKey ?? null}, ${adjustment?.fingerprint ?? null},
         ${adjustment?.id ?? null}, ${JSON.stringify(request)}::jsonb,
         ${sql.timestamp(command.occurredAt)})`,
  );
}
