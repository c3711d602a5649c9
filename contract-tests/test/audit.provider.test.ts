// audit against every pact that names it as provider (see src/provider-test.ts).
import { auditProvider } from '../src/providers/audit.js';
import { verifiesItsConsumers } from '../src/provider-test.js';

verifiesItsConsumers(auditProvider);
