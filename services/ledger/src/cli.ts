// Operator commands over the stored ledger (read-only):
//   tsx services/ledger/src/cli.ts verify    projection == SUM(entries) for every account
//   tsx services/ledger/src/cli.ts checksum  sha256 of transactions, entries and balances
// and deterministic recovery into a new, empty database (never the live one):
//   tsx services/ledger/src/cli.ts replay [database]  ledger.commands from offset 0, then checksum
import { isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { createPool, ensureDatabase } from '@ledgerline/platform/db';
import { replayLedger } from './replay.js';
import { booksChecksum, formatBooksChecksum, verifyProjection } from './store/verify.js';

const command = process.argv[2];
if (command === 'replay') {
  await replay(process.argv[3]);
  process.exit(process.exitCode ?? 0);
}
const databaseUrl = process.env['LEDGER_DATABASE_URL'] ?? platformEndpoints().databaseUrl;
const pool = createPool(databaseUrl, { max: 1, applicationName: 'ledger-cli' });
try {
  if (command === 'verify') {
    const mismatches = await verifyProjection(pool);
    for (const m of mismatches) {
      process.stdout.write(
        `MISMATCH account ${m.accountId}: projection ${m.projectedMinor}, entries ${m.fromEntriesMinor}\n`,
      );
    }
    process.stdout.write(mismatches.length === 0 ? 'projection == SUM(entries): OK\n' : '');
    process.exitCode = mismatches.length === 0 ? 0 : 1;
  } else if (command === 'checksum') {
    process.stdout.write(formatBooksChecksum(await booksChecksum(pool)));
  } else {
    process.stderr.write('usage: cli.ts verify|checksum|replay [database]\n');
    process.exitCode = 2;
  }
} finally {
  await pool.end();
}

/** Creates the target database (default: a new ledger_replay_<time>) and replays into it. */
async function replay(database: string | undefined): Promise<void> {
  const endpoints = platformEndpoints();
  const development = isDevelopment();
  const appRolePassword =
    process.env['LEDGER_APP_PASSWORD'] ?? (development ? 'ledger_app_dev' : '');
  if (appRolePassword === '')
    throw new Error('LEDGER_APP_PASSWORD is required outside development');
  const name =
    database ?? `ledger_replay_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const databaseUrl = await ensureDatabase(endpoints.databaseUrl, name);
  const result = await replayLedger({
    databaseUrl,
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: process.env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    appRolePassword,
    autoRegisterSchemas: development,
  });
  process.stdout.write(
    formatBooksChecksum(result.checksum) +
      `replayed ${result.messages} messages into ${name} in ${result.durationMs} ms\n`,
  );
}
