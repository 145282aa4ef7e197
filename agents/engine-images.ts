// Builds and image removals on one Docker engine, kept apart. The legacy builder
// names a cached step's image by ID and looks it up again for the next step;
// removing a build's image (`docker rmi` of its last tag) also deletes its untagged
// parents, which may be exactly the cached steps a build beside it has just named.
// The build then fails with "No such image", "unable to find image" or "failed to
// get digest" (measured: 7 of 75 builds of one recipe, three at a time, failed so).
//
// So removals wait until no build of this process runs, and then run together
// while new builds wait (milliseconds; a run of them has one deadline). A removal
// never holds up a job's result, and builds do not wait for removals, except when
// MAX_PENDING of them have piled up under a steady stream of builds: then new
// builds wait for the running ones, so the images a busy agent leaves on the
// engine stay bounded. Other processes on the same engine are out of sight:
// oci-build also builds again when the engine lost an image (lostImage).
//
// Hand-written (a read-write lock of a few lines): npm's are unmaintained or
// pre-release only.
import type Docker from 'dockerode';
import { AgentInfraError } from '../schema/errors.ts';

/** Removals that may wait for an idle moment before new builds wait for them. */
export const MAX_PENDING = 16;
/** How long a run of removals may keep builds waiting before the gate opens again (a hung engine call must not stop every build). */
export const REMOVAL_DEADLINE_MS = 60_000;

type Removal = (signal: AbortSignal) => Promise<unknown>;

export class EngineImages {
  constructor(private readonly removalDeadlineMs = REMOVAL_DEADLINE_MS) {}

  private builds = 0;
  private removing = false;
  private readonly pending: Array<{ fn: Removal; onError: (e: unknown) => void }> = [];
  private readonly waiting = new Set<() => void>();

  /**
   * Run `fn` as a build: beside other builds, never beside a removal. `signal` aborted while the build
   * waits for its turn: an AgentInfraError, and `fn` never runs.
   */
  async build<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    while (this.removing || this.pending.length >= MAX_PENDING) await this.turn(signal);
    this.builds++;
    try {
      return await fn();
    } finally {
      this.builds--;
      this.flush();
    }
  }

  /** Remove once no build runs; returns at once. A failing or overdue removal is `onError`'s; the next ones still run. */
  removeWhenIdle(fn: Removal, onError: (e: unknown) => void = () => undefined): void {
    this.pending.push({ fn, onError });
    this.flush();
  }

  /** Resolves once every removal asked for has run (an agent stopping, after its builds), or after `withinMs` (they go on). */
  async idle(withinMs = Infinity): Promise<void> {
    const settled = (async () => {
      while (this.removing || this.pending.length > 0) await this.turn();
    })();
    if (withinMs === Infinity) return settled;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
    await Promise.race([settled, deadline]).finally(() => clearTimeout(timer));
  }

  /** How many removals wait for an idle moment. */
  get waitingRemovals(): number {
    return this.pending.length;
  }

  private turn(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(stopped());
      const onAbort = () => {
        this.waiting.delete(go);
        reject(stopped());
      };
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiting.add(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private flush(): void {
    if (this.removing || this.builds > 0 || this.pending.length === 0) return;
    this.removing = true;
    void this.removeAll().then((finished) => {
      this.removing = false;
      const waiting = [...this.waiting];
      this.waiting.clear();
      for (const go of waiting) go();
      // A removal asked for after the loop's last look waits for the next idle moment, which may be now;
      // after a run cut short by its deadline, the builds go first.
      if (finished) this.flush();
    });
  }

  /** The pending removals, within one deadline for them all: past it, the rest wait for the next idle moment (false). */
  private async removeAll(): Promise<boolean> {
    const end = Date.now() + this.removalDeadlineMs;
    while (this.pending.length > 0) {
      if (Date.now() >= end) return false;
      const { fn, onError } = this.pending.shift()!;
      await removeWithin(fn, end - Date.now(), this.removalDeadlineMs).catch((e: unknown) => {
        try {
          onError(e);
        } catch {
          // A failing error handler must not stop the removals (nor leave the gate closed).
        }
      });
    }
    return true;
  }
}

function stopped(): AgentInfraError {
  return new AgentInfraError('stopped waiting for the Docker engine: the agent is stopping');
}

/** `fn` with an abort signal that fires in `ms`; rejects then even if `fn` does not listen. */
async function removeWithin(fn: Removal, ms: number, runMs: number): Promise<unknown> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new AgentInfraError(`image removals ran past their ${runMs} ms; the gate opens without waiting for this one`));
    }, ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => fn(abort.signal)), overdue]);
  } finally {
    clearTimeout(timer);
  }
}

const gates = new Map<string, EngineImages>();
/** docker-modem's default socket (it holds a function that looks for it when first used). */
const DEFAULT_SOCKET = '/var/run/docker.sock';

/** The address of the engine `docker` talks to. */
function engineAddress(docker: Docker): string {
  const modem = (docker as unknown as { modem?: { socketPath?: unknown; host?: unknown; port?: unknown } }).modem ?? {};
  return typeof modem.socketPath === 'string' ? modem.socketPath : modem.host ? `${String(modem.host)}:${String(modem.port)}` : DEFAULT_SOCKET;
}

/** The gate of the engine `docker` talks to: one per engine address in this process, shared by every client of it. */
export function engineImages(docker: Docker): EngineImages {
  const engine = engineAddress(docker);
  let gate = gates.get(engine);
  if (!gate) gates.set(engine, (gate = new EngineImages()));
  return gate;
}

/** Untag `tag` (repository:tag) once no build of this process runs on `docker`'s engine (see EngineImages). */
export function untagWhenIdle(docker: Docker, tag: string, onError: (e: unknown) => void): void {
  engineImages(docker).removeWhenIdle((signal) => docker.getImage(tag).remove({ abortSignal: signal }), onError);
}

const clockOffsets = new Map<string, Promise<number>>();

/**
 * Now by the engine's clock (ms): what own tags are stamped and judged by, so that agents on one engine agree
 * whatever their own clocks say. Asked once per engine and process (`docker info`); unanswered: this host's clock.
 */
export async function engineNow(docker: Docker): Promise<number> {
  const engine = engineAddress(docker);
  let offset = clockOffsets.get(engine);
  if (!offset) {
    offset = docker.info().then(
      (info: { SystemTime?: string }) => {
        const t = Date.parse(info.SystemTime ?? '');
        return Number.isFinite(t) ? t - Date.now() : 0;
      },
      () => 0,
    );
    clockOffsets.set(engine, offset);
  }
  return Date.now() + (await offset);
}
