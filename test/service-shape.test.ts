// Every service has the same rooms, and arrows point down only (README "One service shape"):
// api/ and events/ -> app/ -> domain/, app/ -> store/. Checked on services/*/src:
// - store/ imports neither events/ nor api/ nor app/; api/ does not import events/ or store/;
//   events/ does not import api/ or store/;
// - domain/ imports no other room and no module that does I/O (database, Kafka, network, files);
// - SQL text (SELECT/INSERT/UPDATE/DELETE statements) appears only under store/.
// Every service passes with no exception (issue 16 converted the last ones).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const ROOMS = ['api', 'app', 'domain', 'store', 'events'] as const;
type Room = (typeof ROOMS)[number];

const FORBIDDEN: Readonly<Record<Room, readonly Room[]>> = {
  api: ['events', 'store'],
  events: ['api', 'store'],
  app: ['api', 'events'],
  domain: ['api', 'app', 'store', 'events'],
  store: ['api', 'app', 'events'],
};

const IO_MODULES =
  /^(pg|slonik|kafkajs|@kafkajs\/.*|express|node:(fs|fs\/promises|net|http|https|child_process|dgram|tls)|@ledgerline\/platform\/(db|kafka|outbox|consumer|database\/.*|http\/.*))$/;

const SQL_TEXT =
  /\b(SELECT\s[^;`]{0,300}?\bFROM\s|INSERT\s+INTO\s|UPDATE\s+[\w."]+\s+SET\s|DELETE\s+FROM\s|ON\s+CONFLICT\b)/;

/** Source without comments, so prose such as "SELECT only" is not taken for SQL. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

function specifiersOf(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;
  return [...source.matchAll(pattern)].map((m) => m[2]!);
}

function roomOf(srcDir: string, file: string): Room | null {
  const first = path.relative(srcDir, file).split(path.sep)[0];
  return (ROOMS as readonly string[]).includes(first ?? '') ? (first as Room) : null;
}

async function violations(): Promise<string[]> {
  const found: string[] = [];
  for (const service of await readdir(path.join(ROOT, 'services'))) {
    const srcDir = path.join(ROOT, 'services', service, 'src');
    for (const file of await sourceFiles(srcDir)) {
      const source = await readFile(file, 'utf8');
      const name = `${service}/${path.relative(srcDir, file).split(path.sep).join('/')}`;
      const room = roomOf(srcDir, file);
      if (room !== 'store' && SQL_TEXT.test(withoutComments(source))) found.push(`${name} -> sql`);
      if (room === null) continue;
      const reached = new Set<string>();
      for (const specifier of specifiersOf(source)) {
        if (room === 'domain' && IO_MODULES.test(specifier)) reached.add(`io ${specifier}`);
        if (!specifier.startsWith('.')) continue;
        const target = roomOf(srcDir, path.resolve(path.dirname(file), specifier));
        if (target !== null && FORBIDDEN[room].includes(target)) reached.add(target);
      }
      for (const what of reached) found.push(`${name} -> ${what}`);
    }
  }
  return found.sort();
}

test('arrows point down only and SQL lives in store/, in every service', async () => {
  expect(await violations()).toEqual([]);
});
