// HTTP calls of the suite, typed by the generated OpenAPI documents' schemas. Every call carries
// the suite's API key and a bound on its duration; "no answer" (refused, reset, timed out) is
// status 0, which the caller treats as "unknown", never as "refused".
import type { components as LedgerSchemas } from '@ledgerline/generated/openapi/ledger.types';
import type { components as ProcessorSchemas } from '@ledgerline/generated/openapi/processor.types';
import type { components as ReconciliationSchemas } from '@ledgerline/generated/openapi/reconciliation.types';
import type { components as AuditSchemas } from '@ledgerline/generated/openapi/audit.types';

export type CreatePaymentRequest = ProcessorSchemas['schemas']['CreatePaymentRequest'];
export type CreateRefundRequest = ProcessorSchemas['schemas']['CreateRefundRequest'];
export type OpenAccountRequest = LedgerSchemas['schemas']['OpenAccountRequest'];
export type CreateAdjustmentRequest = LedgerSchemas['schemas']['CreateAdjustmentRequest'];
export type ChangeAccountStatusRequest = LedgerSchemas['schemas']['ChangeAccountStatusRequest'];
export type StartRunRequest = ReconciliationSchemas['schemas']['StartRunRequest'];
export type ReconciliationRun = ReconciliationSchemas['schemas']['Run'];
export type VerifyResult = AuditSchemas['schemas']['VerifyResult'];

/** A request longer than this is abandoned (status 0: unknown outcome). */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface ApiAnswer {
  /** 0 when nothing came back. */
  status: number;
  json: unknown;
  location: string | null;
}

export async function call(
  baseUrl: string,
  credential: string,
  method: 'GET' | 'POST',
  requestPath: string,
  body?: object,
  headers: Record<string, string> = {},
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<ApiAnswer> {
  try {
    const response = await fetch(`${baseUrl}${requestPath}`, {
      method,
      headers: {
        authorization: `Bearer ${credential}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, json, location: response.headers.get('location') };
  } catch {
    return { status: 0, json: null, location: null };
  }
}

/** A string field of a JSON object answer, if there is one. */
export function field(json: unknown, name: string): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const value = (json as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
