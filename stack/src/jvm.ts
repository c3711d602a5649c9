// JVM toolchain for Kafka and the registry: finding a Java runtime of a given major version,
// and running Maven once to fill the download cache.
import { readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StackError } from './errors.js';
import { installHint } from './prerequisites.js';
import { findOnPath, isExecutable, runCommand } from './process.js';

export interface JavaRuntime {
  javaBin: string;
  majorVersion: number;
}

const JVM_DIR = '/usr/lib/jvm';

/** Kafka: JAVA_HOME, then `java` on PATH; at least Java 17. */
export async function findJavaForKafka(env: NodeJS.ProcessEnv): Promise<JavaRuntime> {
  const majorMin = 17;
  const candidates: string[] = [];
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, 'bin', 'java'));
  const onPath = findOnPath('java', env);
  if (onPath) candidates.push(onPath);
  const runtimes = await inspectAll(candidates);
  if (runtimes.length === 0) {
    throw new StackError(
      `java not found: Kafka needs a Java ${majorMin}+ runtime on PATH or in JAVA_HOME; ` +
        installHint('java17'),
    );
  }
  const fit = runtimes.find((runtime) => runtime.majorVersion >= majorMin);
  if (!fit) {
    const found = runtimes.map((r) => `${r.javaBin} is Java ${r.majorVersion}`).join(', ');
    throw new StackError(
      `java too old: Kafka needs a Java ${majorMin}+ runtime (${found}); set JAVA_HOME to a newer ` +
        `one or ${installHint('java17')}`,
    );
  }
  return fit;
}

/** Apicurio Registry 3: JAVA_HOME if it is 21+, else the newest 21+ under /usr/lib/jvm. */
export async function findJavaForRegistry(env: NodeJS.ProcessEnv): Promise<JavaRuntime> {
  const majorMin = 21;
  if (env.JAVA_HOME) {
    const [fromHome] = await inspectAll([join(env.JAVA_HOME, 'bin', 'java')]);
    if (fromHome && fromHome.majorVersion >= majorMin) return fromHome;
  }
  let entries: string[] = [];
  try {
    entries = await readdir(JVM_DIR);
  } catch {
    entries = [];
  }
  const runtimes = await inspectAll(entries.map((entry) => join(JVM_DIR, entry, 'bin', 'java')));
  const fit = runtimes
    .filter((runtime) => runtime.majorVersion >= majorMin)
    .sort((a, b) => b.majorVersion - a.majorVersion)[0];
  if (!fit) {
    throw new StackError(
      `no Java >= ${majorMin} found (looked in JAVA_HOME and ${JVM_DIR}): ` +
        `Apicurio Registry needs Java ${majorMin}+; ${installHint('java21')}`,
    );
  }
  return fit;
}

async function inspectAll(javaBins: string[]): Promise<JavaRuntime[]> {
  const unique = [...new Set(javaBins)].filter(isExecutable);
  const inspected = await Promise.all(unique.map(inspectJava));
  return inspected.filter((runtime): runtime is JavaRuntime => runtime !== undefined);
}

/**
 * Major version of a java binary: from the JDK's `release` file when there is one (no JVM
 * start, keeps the warm start fast), else from `java -version`.
 */
async function inspectJava(javaBin: string): Promise<JavaRuntime | undefined> {
  try {
    const real = await realpath(javaBin);
    const release = await readFile(join(dirname(dirname(real)), 'release'), 'utf8');
    const match = /^JAVA_VERSION="([^"]+)"/m.exec(release);
    if (match?.[1]) return { javaBin: real, majorVersion: majorOf(match[1]) };
  } catch {
    // no release file: ask the JVM
  }
  try {
    const result = await runCommand(javaBin, ['-version'], {
      timeoutMs: 15_000,
      description: `${javaBin} -version`,
    });
    const match = /version "([^"]+)"/.exec(result.output);
    if (result.exitCode !== 0 || !match?.[1]) return undefined;
    return { javaBin, majorVersion: majorOf(match[1]) };
  } catch {
    return undefined;
  }
}

function majorOf(version: string): number {
  const parts = version.split(/[.+-]/);
  // "1.8.0_392" is Java 8; "17.0.15" is Java 17.
  const major = parts[0] === '1' ? Number(parts[1]) : Number(parts[0]);
  return Number.isInteger(major) ? major : 0;
}

export interface MavenRun {
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** What the download is for, e.g. "Kafka 4.1.2 jars". */
  purpose: string;
  cacheDir: string;
  /** Progress lines: what is being downloaded and how much so far (every few seconds). */
  progress?: (message: string) => void;
}

/** Maven's transfer lines in batch mode: "Downloaded from central: <url> (1.2 MB at 3.4 MB/s)". */
export function downloadedBytes(line: string): number | undefined {
  const match = /^\[INFO\] Downloaded from [^:]+: \S+ \((\d+(?:\.\d+)?) (B|kB|KB|MB|GB)/.exec(line);
  if (!match?.[1] || !match[2]) return undefined;
  const unit: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };
  return Math.round(Number(match[1]) * (unit[match[2]] ?? 1));
}

/** Runs Maven (only on a cold cache); a missing mvn or a failed run is one clear line. */
export async function runMaven(run: MavenRun): Promise<void> {
  const mvn = findOnPath('mvn', run.env);
  if (!mvn) {
    throw new StackError(
      `mvn not found: Maven is needed once to download ${run.purpose} into ${run.cacheDir}; ` +
        `${installHint('maven')} (or copy a filled cache there)`,
    );
  }
  const timeoutMs = 10 * 60_000;
  // Not -q: the transfer lines are the progress (what and how much), summed every few seconds.
  const progressEveryMs = 3_000;
  let files = 0;
  let bytes = 0;
  let reportedAtMs = Date.now();
  const report = (final: boolean): void => {
    if (!run.progress || (files === 0 && !final)) return;
    const megabytes = (bytes / 1e6).toFixed(1);
    run.progress(
      `${final ? 'downloaded' : 'downloading'} ${run.purpose}: ${files} files, ${megabytes} MB` +
        (final ? '' : ' so far'),
    );
  };
  const result = await runCommand(mvn, ['-B', ...run.args], {
    cwd: run.cwd,
    env: run.env,
    timeoutMs,
    description: `mvn (downloading ${run.purpose})`,
    onOutputLine: (line) => {
      const size = downloadedBytes(line);
      if (size === undefined) return;
      files += 1;
      bytes += size;
      if (Date.now() - reportedAtMs < progressEveryMs) return;
      reportedAtMs = Date.now();
      report(false);
    },
  });
  if (result.exitCode === 0 && files > 0) report(true);
  if (result.exitCode !== 0) {
    const lastLine =
      result.output
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.startsWith('[ERROR]'))[0] ?? result.output.trim().slice(-300);
    throw new StackError(
      `mvn failed (exit ${result.exitCode}) downloading ${run.purpose}: ${lastLine.replace(/\s+/g, ' ')}`,
    );
  }
}
