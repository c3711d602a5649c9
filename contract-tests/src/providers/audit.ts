// Audit as a provider: it publishes no event another service consumes, so it has no message
// scenarios; its API answers the console's HTTP pact, over the platform's real services.
import type { ProviderDefinition } from '../verify.js';
import { consoleStateHandlers } from './console-states.js';

export const auditProvider: ProviderDefinition = {
  name: 'audit',
  scenarios: {},
  http: { service: 'audit', states: consoleStateHandlers },
};
