// A signed commit object, byte for byte as git writes one: the payload without
// the signature is signed (detached, armored) and the signature goes into the
// `gpgsig` header, each line indented by one space. We format it here rather
// than through isomorphic-git's commit(): that reads (and locks) the repo's
// index and refuses to commit while the index has unmerged paths, which has
// nothing to do with the status branch.
import { writeObject } from './git-objects.ts';

export interface Identity {
  name: string;
  email: string;
}

export interface CommitFields {
  tree: string;
  parents: string[];
  author: Identity;
  committer: Identity;
  /** Author and committer time. */
  time: Date;
  message: string;
}

function signature(who: Identity, time: Date): string {
  const clean = (s: string) => s.replace(/[<>\n]/g, '').trim();
  return `${clean(who.name)} <${clean(who.email)}> ${Math.floor(time.getTime() / 1000)} +0000`;
}

/** The commit's headers, one per line (no trailing blank line). */
function headers(c: CommitFields): string {
  return [
    `tree ${c.tree}`,
    ...c.parents.map((p) => `parent ${p}`),
    `author ${signature(c.author, c.time)}`,
    `committer ${signature(c.committer, c.time)}`,
  ].join('\n');
}

/** The text that is signed: the whole commit minus the gpgsig header. */
export function commitPayload(c: CommitFields): string {
  const message = c.message.endsWith('\n') ? c.message : c.message + '\n';
  return `${headers(c)}\n\n${message}`;
}

/** The signed commit text: payload with `gpgsig` inserted after the committer header. */
export function signedCommitText(c: CommitFields, armoredSignature: string): string {
  const sig = armoredSignature.replace(/\r\n/g, '\n').trim().split('\n').join('\n ');
  const message = c.message.endsWith('\n') ? c.message : c.message + '\n';
  return `${headers(c)}\ngpgsig ${sig}\n\n${message}`;
}

/** Sign and write the commit; returns its oid. */
export async function writeSignedCommit(gitdir: string, c: CommitFields, sign: (payload: string) => Promise<string>): Promise<string> {
  const sig = await sign(commitPayload(c));
  return writeObject(gitdir, 'commit', Buffer.from(signedCommitText(c, sig), 'utf8'));
}

/** "Name <email>" -> Identity, or undefined. */
export function parseUserId(userId: string): Identity | undefined {
  const m = /^\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(userId);
  return m ? { name: m[1] || m[2], email: m[2] } : undefined;
}
