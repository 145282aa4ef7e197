// What `kiln reconcile` needs to start the forge side: secrets from files, and
// the webhook receiver bound to this reconciler (push → wake, pull_request → check).
import fs from 'node:fs';
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

export async function startReceiver(s: WebhookSettings, repoDir: string, forge: ForgeService, wake: (reason: string) => void, log: Logger): Promise<WebhookServer> {
  return startWebhookServer({
    listen: s.listen,
    secret: s.secret,
    log,
    handlers: {
      async onPush(ref) {
        if (ref !== (await trackedRef(repoDir))) return false;
        wake('webhook push');
        return true;
      },
      onPullRequest: (head, number) => forge.onPullRequest(head, number),
    },
  });
}
