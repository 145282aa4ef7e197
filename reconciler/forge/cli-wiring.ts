// What `kiln reconcile` needs to start the forge side: secrets from files, and
// the webhook receiver bound to this reconciler (push → fetch + wake,
// pull_request → check).
import fs from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import git from 'isomorphic-git';
import type { Logger } from 'pino';
import { UsageError } from '../../schema/errors.ts';
import { repoArgs } from '../git/tree.ts';
import type { ForgeService } from './service.ts';
import { startWebhookServer, type WebhookServer } from './webhook-server.ts';

export interface WebhookSettings {
  listen: string;
  secret: string;
}

/** A secret kept in a file (token, webhook secret): its first line; undefined when no file was given. */
export async function readSecretFile(path: string | undefined, flag: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { file: path });
  }
  const secret = text.split(/\r?\n/)[0].trim();
  if (!secret) throw new UsageError(`${flag} ${path}:1: the file is empty (expected the secret on its first line)`, { file: path, line: 1 });
  return secret;
}

/** The branch the reconciler follows: the one HEAD names in its repository. */
async function trackedRef(dir: string): Promise<string | undefined> {
  const branch = await git.currentBranch({ fs, ...repoArgs(dir), fullname: true });
  return branch ?? undefined;
}

/** The reconciler a receiver serves: its repo (or mirror), forge, and remote when the repo is a URL. */
export interface ReceiverTarget {
  repoDir: string;
  forge: ForgeService;
  /** A URL repo's fetch step: a push makes the next pass fetch, however recent the last fetch. */
  remote?: { fetchNow(): void };
}

export async function startReceiver(s: WebhookSettings, t: ReceiverTarget, wake: (reason: string) => void, log: Logger): Promise<WebhookServer> {
  const { repoDir, forge } = t;
  return startWebhookServer({
    listen: s.listen,
    secret: s.secret,
    log,
    deliveriesFile: join(forge.stateDir, 'webhook-deliveries'),
    handlers: {
      async onPush(ref) {
        if (ref !== (await trackedRef(repoDir))) return false;
        t.remote?.fetchNow();
        wake('webhook push');
        return true;
      },
      onPullRequest: (head, number) => forge.onPullRequest(head, number),
    },
  });
}
