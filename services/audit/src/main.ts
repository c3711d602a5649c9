// The audit service as a process: settings from the environment, graceful stop on signals.
import { runService } from '@ledgerline/platform/lifecycle';
import { createLogger } from '@ledgerline/platform/log';
import { auditConfigFromEnv, startAudit } from './service.js';

await runService(createLogger('audit'), () => startAudit(auditConfigFromEnv()));
