// The order in which a publish becomes visible. Pure, so the order is tested.
//
//  1. pool files          (written before this plan: new names, invisible until indexed)
//  2. by-hash/SHA256/<h>  new index contents under their hash: apt with Acquire-By-Hash
//                          fetches indexes by the hash the Release it holds names, so a
//                          client that read the OLD Release still finds the OLD index and
//                          one that reads the NEW Release finds the new one — never a mix
//  3. Packages{,.gz}      the named indexes, for clients that do not use by-hash
//  4. key file            the public key (changes only on key renewal)
//  5. Release, Release.gpg
//  6. InRelease           last of all: apt prefers it, so its rename is the switch
//  7. state.json          after the switch (a crash before it only costs a re-check)
//  8. prune               only now may unreferenced files go (after a grace period)

export type Step =
  | { op: 'write'; path: string; data: string | Uint8Array; phase: Phase }
  | { op: 'save-state'; phase: 'state' }
  | { op: 'prune'; phase: 'prune' };

export type Phase = 'by-hash' | 'index' | 'key' | 'release' | 'release-gpg' | 'inrelease' | 'state' | 'prune';

export const PHASE_ORDER: Phase[] = ['by-hash', 'index', 'key', 'release', 'release-gpg', 'inrelease', 'state', 'prune'];

export interface SwitchInput {
  /** Changed index files: path relative to the repo root, the dir's by-hash path, the bytes. */
  indexes: Array<{ path: string; byHashPath: string; data: Uint8Array }>;
  key?: { path: string; data: string };
  release?: { dir: string; release: string; releaseGpg: string; inRelease: string };
}

export function planSwitch(input: SwitchInput): Step[] {
  const steps: Step[] = [];
  for (const i of input.indexes) steps.push({ op: 'write', path: i.byHashPath, data: i.data, phase: 'by-hash' });
  for (const i of input.indexes) steps.push({ op: 'write', path: i.path, data: i.data, phase: 'index' });
  if (input.key) steps.push({ op: 'write', path: input.key.path, data: input.key.data, phase: 'key' });
  if (input.release) {
    const r = input.release;
    steps.push({ op: 'write', path: `${r.dir}/Release`, data: r.release, phase: 'release' });
    steps.push({ op: 'write', path: `${r.dir}/Release.gpg`, data: r.releaseGpg, phase: 'release-gpg' });
    steps.push({ op: 'write', path: `${r.dir}/InRelease`, data: r.inRelease, phase: 'inrelease' });
  }
  steps.push({ op: 'save-state', phase: 'state' }, { op: 'prune', phase: 'prune' });
  return steps;
}
