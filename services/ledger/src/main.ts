// The ledger as a process: settings from the environment; the platform runner starts it and
// stops it gracefully on SIGTERM/SIGINT.
import { runServiceProcess } from '@ledgerline/platform/service/runner';
import { ledgerConfigFromEnv } from './config.js';
import { ledger } from './service.js';

await runServiceProcess(ledger, ledgerConfigFromEnv);
