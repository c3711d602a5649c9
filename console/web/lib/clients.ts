// The console's clients of the four services: the platform's generated typed HTTP clients, one
// per service, at the base URL the caller gives (the app: its own origin's forwarding paths;
// the pact tests: Pact's mock server).
import { createProcessorClient } from '@ledgerline/generated/openapi/processor.client';
import { createLedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import { createReconciliationClient } from '@ledgerline/generated/openapi/reconciliation.client';
import { createAuditClient } from '@ledgerline/generated/openapi/audit.client';

export type ServiceName = 'processor' | 'ledger' | 'reconciliation' | 'audit';

export function platformClientsAt(baseOf: (service: ServiceName) => string, credential: string) {
  return {
    processor: createProcessorClient(baseOf('processor'), { credential }),
    ledger: createLedgerClient(baseOf('ledger'), { credential }),
    reconciliation: createReconciliationClient(baseOf('reconciliation'), { credential }),
    audit: createAuditClient(baseOf('audit'), { credential }),
  };
}

export type PlatformClients = ReturnType<typeof platformClientsAt>;
