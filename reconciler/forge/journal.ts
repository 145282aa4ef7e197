// The outbox's delivery journal: one JSON line per step of sending a status
// (`attempt` before the request, `sent` or `dropped` after the answer), flushed
// to disk before the next step. A status whose last line is `attempt` may or may
// not have reached the forge (the process died waiting for the answer): the
// outbox asks the forge before sending it again. Local to the reconciler's
// state, since it only says how far sending got; what must be sent is on kiln/status.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export type DeliveryPhase = 'attempt' | 'sent' | 'dropped';
const PHASES = new Set<string>(['attempt', 'sent', 'dropped']);

export class DeliveryJournal {
  private constructor(
    private readonly file: FileHandle,
    private readonly phases: Map<string, DeliveryPhase>,
    /** No journal existed: every status already recorded is of unknown delivery. */
    public fresh: boolean,
  ) {}

  static async open(path: string): Promise<DeliveryJournal> {
    await mkdir(dirname(path), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const phases = new Map<string, DeliveryPhase>();
    for (const line of (text ?? '').split('\n')) {
      // A torn last line (killed mid-write) is skipped: its status counts as not yet attempted… or attempted, which is checked.
      try {
        const { id, phase } = JSON.parse(line) as { id?: unknown; phase?: unknown };
        if (typeof id === 'string' && typeof phase === 'string' && PHASES.has(phase)) phases.set(id, phase as DeliveryPhase);
      } catch {
        continue;
      }
    }
    return new DeliveryJournal(await open(path, 'a'), phases, text === undefined);
  }

  phase(id: string): DeliveryPhase | undefined {
    return this.phases.get(id);
  }

  async mark(id: string, phase: DeliveryPhase): Promise<void> {
    // A leading newline ends a torn line a killed writer may have left.
    await this.file.write(`\n${JSON.stringify({ id, phase })}`);
    await this.file.datasync();
    this.phases.set(id, phase);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
