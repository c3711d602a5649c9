// processor against every pact that names it as provider (see src/provider-test.ts).
import { processorProvider } from '../src/providers/processor.js';
import { verifiesItsConsumers } from '../src/provider-test.js';

verifiesItsConsumers(processorProvider);
