// reconciliation against every pact that names it as provider (see src/provider-test.ts).
import { reconciliationProvider } from '../src/providers/reconciliation.js';
import { verifiesItsConsumers } from '../src/provider-test.js';

verifiesItsConsumers(reconciliationProvider);
