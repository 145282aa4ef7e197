// The base image tags (`from: HOST/REPO:TAG` of oci packages) a desired state names, asked
// every pass. Counted once per state and, for a state the reader patched from an earlier one
// (state-changes.ts), derived from that one's counts and the changed packages alone: a
// one-change pass costs what changed, not a walk over 10,000 packages.
import type { DesiredPackage, DesiredState } from '../model.ts';
import { desiredChangesOf } from './state-changes.ts';

/** Tag -> how many packages build FROM it. */
type TagCounts = ReadonlyMap<string, number>;

const counted = new WeakMap<DesiredState, TagCounts>();

const tagOf = (p: DesiredPackage | undefined): string | undefined => (p?.format === 'oci' && p.from && 'tag' in p.from ? p.from.tag : undefined);

function countAll(desired: DesiredState): TagCounts {
  const out = new Map<string, number>();
  for (const p of desired.packages.values()) {
    const tag = tagOf(p);
    if (tag !== undefined) out.set(tag, (out.get(tag) ?? 0) + 1);
  }
  return out;
}

function countsOf(desired: DesiredState): TagCounts {
  let counts = counted.get(desired);
  if (counts) return counts;
  const changes = desiredChangesOf(desired);
  const before = changes && counted.get(changes.since);
  if (changes && before) {
    const out = new Map(before);
    const add = (tag: string | undefined, n: number) => {
      if (tag === undefined) return;
      const now = (out.get(tag) ?? 0) + n;
      if (now > 0) out.set(tag, now);
      else out.delete(tag);
    };
    for (const name of changes.packages) {
      add(tagOf(changes.since.packages.get(name)), -1);
      add(tagOf(desired.packages.get(name)), 1);
    }
    counts = out;
  } else counts = countAll(desired);
  counted.set(desired, counts);
  return counts;
}

/** Every `from:` tag of the desired state, sorted. */
export function baseTags(desired: DesiredState): string[] {
  return [...countsOf(desired).keys()].sort();
}
