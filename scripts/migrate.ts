// `npm run migrate`: the database deploy step, run before any service starts (npm start and the
// test setup call the same function). Connects as DATABASE_URL (the admin); services then get
// only their own role's URL (<ROLE>_DATABASE_URL).
import { migrateAll } from './databases.js';

try {
  const report = await migrateAll();
  for (const [schema, versions] of Object.entries(report.applied)) {
    console.log(
      `[migrate] ${schema}: ${versions.length === 0 ? 'up to date' : `applied ${versions.join(', ')}`}`,
    );
  }
  for (const change of report.changes) console.log(`[migrate] ${change}`);
} catch (error) {
  console.error(`[migrate] ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
