// `kiln/check` records of pull-request heads, one JSON file per head in the
// reconciler's state dir, written atomically (temp, fsync, rename) before the
// webhook is answered: a crash after that re-runs the check (a record with no
// final state) and sends what is missing. Removed once every status was sent.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FORGE_CONTEXTS, type CheckOutboxEntry } from '../../schema/forge.ts';
import { validators } from '../../schema/validate.ts';
import { forgeStatus, isFinal } from './reconcile-status.ts';

const SHA = /^[0-9a-f]{40}$/;

export class CheckRecords {
  private readonly entries = new Map<string, CheckOutboxEntry>();

  private constructor(private readonly dir: string) {}

  static async open(dir: string, log: Logger): Promise<CheckRecords> {
    await mkdir(dir, { recursive: true });
    const store = new CheckRecords(dir);
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const data: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
        if (validators.checkOutboxEntry(data) && name === `${data.commit}.json`) store.entries.set(data.commit, data);
        else log.warn({ file: join(dir, name) }, 'ignoring an invalid kiln/check record');
      } catch {
        log.warn({ file: join(dir, name) }, 'ignoring an unreadable kiln/check record');
      }
    }
    return store;
  }

  all(): CheckOutboxEntry[] {
    return [...this.entries.values()];
  }

  /** Heads whose check has not given a verdict yet (e.g. the process died while it ran). */
  unfinished(): CheckOutboxEntry[] {
    return this.all().filter((e) => !isFinal(e));
  }

  /** A head to check: false when it is already known (a redelivered event, a re-opened PR). */
  async begin(commit: string, pullRequest: number | undefined, now: Date): Promise<boolean> {
    if (!SHA.test(commit)) throw new TypeError(`not a commit id: ${commit}`);
    if (this.entries.has(commit)) return false;
    const entry: CheckOutboxEntry = { commit, context: FORGE_CONTEXTS.check, statuses: [forgeStatus('pending', 'checking', now)] };
    if (pullRequest !== undefined) entry.pullRequest = pullRequest;
    await this.write(entry);
    return true;
  }

  /** The head's final state: success or failure (a verdict), or error (the check could not run). */
  async finish(commit: string, state: 'success' | 'failure' | 'error', summary: string, now: Date): Promise<void> {
    const entry = this.entries.get(commit);
    if (!entry || isFinal(entry)) return;
    await this.write({ ...entry, statuses: [...entry.statuses, forgeStatus(state, summary, now)] });
  }

  /** Every status of the record was sent: forget it (a later event for the same head checks it again). */
  async remove(commit: string): Promise<void> {
    const entry = this.entries.get(commit);
    if (!entry || !isFinal(entry)) return;
    this.entries.delete(commit);
    await rm(join(this.dir, `${commit}.json`), { force: true });
  }

  private async write(entry: CheckOutboxEntry): Promise<void> {
    const path = join(this.dir, `${entry.commit}.json`);
    const tmp = `${path}.${process.pid}.tmp`;
    const f = await open(tmp, 'w');
    try {
      await f.writeFile(JSON.stringify(entry));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
    this.entries.set(entry.commit, entry);
  }
}
