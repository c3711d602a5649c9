// A V8 CPU profile of part of a run (the measured phase of a benchmark), written as a
// .cpuprofile that Chrome DevTools and `node --cpu-prof` tooling open.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

/** Starts profiling this process when `path` is set; the returned function stops and writes. */
export async function startCpuProfile(path: string | undefined): Promise<() => Promise<void>> {
  if (path === undefined || path === '') return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(path, JSON.stringify(profile));
    session.disconnect();
    process.stderr.write(`CPU profile: ${path}\n`);
  };
}
