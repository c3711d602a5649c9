// TLS for a running local PostgreSQL, on request (tests of sslmode=verify-full; trying a
// production-like connection locally). Kept apart from the launcher: the default stack stays
// plaintext on loopback. The certificate and key go into the server's own data directory,
// owned by the server's OS user (PostgreSQL refuses a key others can read), and ssl is turned
// on with ALTER SYSTEM and a reload: PostgreSQL re-reads its TLS settings on SIGHUP.
import { chown, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { IssuedCertificate } from './certificates.js';
import { LOOPBACK_HOST, POSTGRES_PASSWORD, POSTGRES_USER, type StackConfig } from './paths.js';

/** Installs `certificate` as the server's and turns ssl on; returns once the reload is done. */
export async function enablePostgresTls(
  config: StackConfig,
  certificate: IssuedCertificate,
): Promise<void> {
  const client = new pg.Client({
    host: LOOPBACK_HOST,
    port: config.ports.postgres,
    user: POSTGRES_USER,
    password: POSTGRES_PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
    ssl: false,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // The server says where its data lives (the launcher may keep it outside the home).
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    const dataDir = rows[0]!.data_directory;
    const owner = await stat(dataDir);
    const certFile = join(dataDir, 'ledgerline-server.crt');
    const keyFile = join(dataDir, 'ledgerline-server.key');
    await writeFile(certFile, certificate.certificatePem, { mode: 0o644 });
    await writeFile(keyFile, certificate.privateKeyPem, { mode: 0o600 });
    await chown(certFile, owner.uid, owner.gid);
    await chown(keyFile, owner.uid, owner.gid);
    await client.query(`ALTER SYSTEM SET ssl_cert_file = ${client.escapeLiteral(certFile)}`);
    await client.query(`ALTER SYSTEM SET ssl_key_file = ${client.escapeLiteral(keyFile)}`);
    await client.query(`ALTER SYSTEM SET ssl = 'on'`);
    const reloaded = await client.query<{ ok: boolean }>('SELECT pg_reload_conf() AS ok');
    if (reloaded.rows[0]?.ok !== true) throw new Error('PostgreSQL refused to reload its settings');
  } finally {
    await client.end().catch(() => undefined);
  }
}
