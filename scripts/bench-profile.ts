// CPU profiles of chosen sections of a benchmark (`--profile DIR` in bench-plan): the
// V8 profiler runs only around the section, so a profile shows that section alone.
// Open the .cpuprofile files in Chrome DevTools or speedscope.
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SectionProfiler {
  /** Runs fn with the profiler on when a directory was given; writes DIR/NAME.cpuprofile. */
  section<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export function sectionProfiler(dir: string | undefined): SectionProfiler {
  if (!dir) return { section: (_name, fn) => fn() };
  const session = new Session();
  session.connect();
  return {
    async section(name, fn) {
      await mkdir(dir, { recursive: true });
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      try {
        return await fn();
      } finally {
        const { profile } = await session.post('Profiler.stop');
        await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      }
    },
  };
}
