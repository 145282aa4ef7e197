// How the mirror talks to the remote: list refs, fetch refs' objects, and
// compare-and-set a remote ref. Two implementations: smart HTTP through
// isomorphic-git (http-transport.ts) and SSH through native git
// (ssh-transport.ts), since isomorphic-git speaks only HTTP.
import { FETCHED_PREFIX, MIRROR_REMOTE } from '../git/mirror-layout.ts';

export interface RemoteRefs {
  /** Full ref name -> commit id. */
  refs: Map<string, string>;
  /** The branch the remote's HEAD points at (refs/heads/...), when it says. */
  head?: string;
}

export interface Transport {
  /** The remote URL, without credentials (for messages). */
  readonly url: string;
  listRefs(): Promise<RemoteRefs>;
  /** Bring the objects of these remote refs into the mirror; returns each ref's commit id. */
  fetch(refs: string[]): Promise<Map<string, string>>;
  /**
   * Set the remote `ref` to `next` only if it is `expected` now (null: absent).
   * RemoteRejectedError when it is not; RemoteUnreachableError / RemoteAuthError otherwise.
   */
  push(ref: string, expected: string | null, next: string): Promise<void>;
}

export { FETCHED_PREFIX, MIRROR_REMOTE };
export const fetchedRef = (ref: string) => FETCHED_PREFIX + ref.replace(/^refs\//, '');
