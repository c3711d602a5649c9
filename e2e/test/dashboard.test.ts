// The provisioned Grafana dashboard queries only metrics some service really exports: a
// renamed metric would otherwise leave a panel silently empty.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '@ledgerline/platform/config';

async function sourcesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => file.includes(`${path.sep}src${path.sep}`));
}

test('every metric the dashboard queries is declared by a service or the platform', async () => {
  const dashboard = JSON.parse(
    await readFile(path.join(REPO_ROOT, 'deploy/grafana/dashboards/ledgerline.json'), 'utf8'),
  ) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const files = [
    ...(await sourcesUnder(path.join(REPO_ROOT, 'services'))),
    ...(await sourcesUnder(path.join(REPO_ROOT, 'platform'))),
  ];
  const declared = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');

  const queried = new Map<string, string>();
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets ?? []) {
      for (const [name] of expr.matchAll(/\b(?:ledgerline|ledger|http)_[a-z_]+/g)) {
        // Histograms are queried through their _bucket series.
        queried.set(name.replace(/_bucket$/, ''), panel.title);
      }
    }
  }

  expect(queried.size).toBeGreaterThan(8);
  const missing = [...queried].filter(([name]) => !declared.includes(`'${name}'`));
  expect(missing).toEqual([]);
});
