// The engine's "oom" events for one container, watched from before it starts.
// State.OOMKilled is not enough: the build runs as a child of `timeout` (the
// in-container deadline), so an OOM kill ends the container with 137 from
// `timeout`, and the engine learns of the OOM from the cgroup's memory.events
// independently of the exit. When that notice comes after the exit, the
// container's state says OOMKilled: false, yet the engine still emits its
// "oom" event. A 137 exit therefore waits a moment for that event.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';

/** How long a 137 exit waits for a late "oom" event (it follows the exit by milliseconds). */
export const LATE_OOM_WAIT_MS = 2000;

export interface OomWatch {
  /** Whether an "oom" event arrived, waiting up to `ms` for one. */
  seen(ms: number): Promise<boolean>;
  close(): void;
}

export async function watchOom(docker: Docker, containerId: string): Promise<OomWatch> {
  const stream = (await docker.getEvents({ filters: { container: [containerId], event: ['oom'] } })) as unknown as Readable;
  let oom = false;
  let wake: (() => void) | undefined;
  stream.on('data', () => {
    oom = true;
    wake?.();
  });
  // A broken event stream only loses this second opinion; State.OOMKilled still counts.
  stream.on('error', () => undefined);
  return {
    seen: (ms) =>
      oom
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(oom), ms);
            wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
          }),
    close: () => stream.destroy(),
  };
}
