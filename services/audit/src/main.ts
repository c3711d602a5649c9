// The audit service as a process: settings from the environment; the platform runner starts it
// and stops it gracefully on SIGTERM/SIGINT.
import { runServiceProcess } from '@ledgerline/platform/service/runner';
import { auditConfigFromEnv } from './config.js';
import { audit } from './service.js';

await runServiceProcess(audit, auditConfigFromEnv);
