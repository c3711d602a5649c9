// ledger against every pact that names it as provider (see src/provider-test.ts).
import { ledgerProvider } from '../src/providers/ledger.js';
import { verifiesItsConsumers } from '../src/provider-test.js';

verifiesItsConsumers(ledgerProvider);
