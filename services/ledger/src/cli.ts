// Operator commands over the stored ledger (read-only):
//   tsx services/ledger/src/cli.ts verify    projection == SUM(entries) for every account
//   tsx services/ledger/src/cli.ts checksum  sha256 of transactions, entries and balances
import { platformEndpoints } from '@ledgerline/platform/config';
import { createPool } from '@ledgerline/platform/db';
import { ledgerChecksum, verifyProjection } from './store/verify.js';

const command = process.argv[2];
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
    const sum = await ledgerChecksum(pool);
    process.stdout.write(
      `${sum.sha256}  transactions=${sum.transactions} entries=${sum.entries} balances=${sum.balances}\n`,
    );
  } else {
    process.stderr.write('usage: cli.ts verify|checksum\n');
    process.exitCode = 2;
  }
} finally {
  await pool.end();
}
