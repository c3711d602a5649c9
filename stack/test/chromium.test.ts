import type { CommandOptions, CommandResult } from '../src/process.js';
import { ensureChromium, findChromium } from '../src/chromium.js';

const PATH_WITH_APT = '/usr/bin:/bin';
/** A PATH lookup that finds apt-get in /usr/bin when PATH holds it (whatever this machine has). */
const which = (env: NodeJS.ProcessEnv) => (name: string) =>
  (env['PATH'] ?? '').split(':').includes('/usr/bin') ? `/usr/bin/${name}` : undefined;

interface Call {
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv | undefined;
}

/** A machine whose files appear when the install says so, and whose apt-get answers in turn. */
function machine(answers: CommandResult[], installs = true) {
  const files = new Set<string>();
  const calls: Call[] = [];
  const run = async (_command: string, args: string[], options: CommandOptions) => {
    calls.push({ args, env: options.env });
    const answer = answers.shift() ?? { exitCode: 0, output: '' };
    if (installs && args.includes('install') && answer.exitCode === 0)
      files.add('/usr/bin/chromium');
    return answer;
  };
  return { files, calls, run, exists: (p: string) => files.has(p) };
}

const lines: string[] = [];
const log = (line: string) => lines.push(line);

/** ensureChromium where it may install: root, apt-get on PATH. */
const asRootWithAptGet = (m: ReturnType<typeof machine>) =>
  ensureChromium({
    env: { PATH: PATH_WITH_APT },
    which: which({ PATH: PATH_WITH_APT }),
    isRoot: true,
    log,
    ...m,
  });

beforeEach(() => {
  lines.length = 0;
});

test('CHROMIUM_PATH wins over the usual places; an empty one is ignored', () => {
  const present = new Set(['/opt/chrome', '/usr/bin/chromium']);
  const exists = (p: string) => present.has(p);
  expect(findChromium({ CHROMIUM_PATH: '/opt/chrome' }, exists)).toBe('/opt/chrome');
  expect(findChromium({ CHROMIUM_PATH: '' }, exists)).toBe('/usr/bin/chromium');
  expect(findChromium({}, () => false)).toBeUndefined();
});

test('a Chromium already there is used and nothing is installed', async () => {
  const m = machine([]);
  m.files.add('/usr/bin/chromium');
  const outcome = await asRootWithAptGet(m);
  expect(outcome).toEqual({ found: '/usr/bin/chromium', installed: false });
  expect(m.calls).toEqual([]);
});

test('as root with apt-get, a missing Chromium is installed non-interactively, once', async () => {
  const m = machine([{ exitCode: 0, output: 'Setting up chromium' }]);
  const outcome = await asRootWithAptGet(m);
  expect(outcome).toEqual({ found: '/usr/bin/chromium', installed: true });
  expect(m.calls.map((c) => c.args.slice(2))).toEqual([
    ['install', '-y', '--no-install-recommends', 'chromium'],
  ]);
  expect(m.calls[0]?.env?.['DEBIAN_FRONTEND']).toBe('noninteractive');
  expect(lines.join('\n')).toContain('installing Debian');
});

test('a stale package index is refreshed and the install tried again', async () => {
  const m = machine([
    { exitCode: 100, output: 'E: Unable to locate package chromium' },
    { exitCode: 0, output: '' },
    { exitCode: 0, output: '' },
  ]);
  const outcome = await asRootWithAptGet(m);
  expect(outcome).toEqual({ found: '/usr/bin/chromium', installed: true });
  expect(m.calls.map((c) => c.args[2])).toEqual(['install', 'update', 'install']);
});

test('an install that fails says why and how to install it by hand', async () => {
  const m = machine([
    { exitCode: 100, output: 'E: Unable to locate package chromium' },
    { exitCode: 0, output: '' },
    { exitCode: 100, output: 'Reading package lists...\nE: Unable to locate package chromium\n' },
  ]);
  const outcome = await asRootWithAptGet(m);
  expect(outcome.found).toBeUndefined();
  expect(outcome).toMatchObject({
    why: expect.stringMatching(
      /^apt-get install chromium failed \(exit 100: E: Unable to locate package chromium\); No Chromium found .*apt-get install chromium/,
    ),
  });
});

test.each([
  ['not root', { PATH: PATH_WITH_APT }, false],
  ['no apt-get on PATH', { PATH: '/nonexistent' }, true],
  [
    'LEDGERLINE_INSTALL_PREREQUISITES=0',
    { PATH: PATH_WITH_APT, LEDGERLINE_INSTALL_PREREQUISITES: '0' },
    true,
  ],
])('%s: nothing is run, and the answer names the install command', async (_what, env, isRoot) => {
  const m = machine([]);
  const outcome = await ensureChromium({ env, which: which(env), isRoot, log, ...m });
  expect(m.calls).toEqual([]);
  expect(outcome).toEqual({
    found: undefined,
    why: expect.stringContaining('install it with `apt-get install chromium` on Debian/Ubuntu'),
  });
});
