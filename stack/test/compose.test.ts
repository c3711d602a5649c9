// docker-compose.yml is valid Compose: `docker compose config -q` needs the client only, no engine.
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../src/paths.js';

function composeCommand(): string[] | undefined {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (plugin.status === 0) return ['docker', 'compose'];
  const standalone = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  if (standalone.status === 0) return ['docker-compose'];
  return undefined;
}

test('docker compose config -q accepts docker-compose.yml', () => {
  const compose = composeCommand();
  if (!compose) {
    throw new Error(
      "no Compose client: install the `docker compose` plugin or Debian's `docker-compose` (apt-get install docker-compose); no engine is needed",
    );
  }
  const [command, ...prefix] = compose;
  const result = spawnSync(
    command as string,
    [...prefix, '-f', 'docker-compose.yml', 'config', '-q'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  // The service profile is valid too.
  const services = spawnSync(
    command as string,
    [...prefix, '-f', 'docker-compose.yml', '--profile', 'services', 'config', '--services'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  expect(services.status).toBe(0);
  expect(services.stdout.trim().split('\n').sort()).toEqual([
    'audit',
    'kafka',
    'ledger',
    'postgres',
    'processor',
    'reconciliation',
    'schema-registry',
  ]);
});
