// A persistent, insertion-ordered map for the snapshots' big tables (the desired files, the
// status index): each version is a shared base Map plus a small overlay of its own, so the
// next version with a few changes costs those changes, not a copy of 10,000 entries, and a
// read is one or two native Map lookups. (A hash-trie library was measured first: 6 µs per
// string lookup, ten times a Map's, which a cold read of 10,000 files cannot afford.)
// The overlay is folded into a fresh base once it outgrows √(base size): a copy every
// ~√n changes, so a change costs O(√n) at worst. Order is that of a Map copied and then
// edited the same way: replaced keys keep their place, deleted ones go, new (or deleted
// and re-added) ones come last. It is a ReadonlyMap, so a version can stand where readers
// take one (DesiredState.packages after an incremental read).

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  private open = false;

  private constructor(
    private base: ReadonlyMap<K, V>,
    private replaced: Map<K, V>,
    private deleted: Set<K>,
    private appended: Map<K, V>,
  ) {}

  static empty<K, V>(): LayeredMap<K, V> {
    return new LayeredMap<K, V>(new Map(), new Map(), new Set(), new Map());
  }

  /** `map` itself when it is one, else a version holding its entries in its order. */
  static from<K, V>(map: { keys(): Iterable<K>; get(k: K): V | undefined }): LayeredMap<K, V> {
    if (map instanceof LayeredMap) return map as LayeredMap<K, V>;
    const base = new Map<K, V>();
    for (const k of map.keys()) base.set(k, map.get(k) as V);
    return new LayeredMap(base, new Map(), new Set(), new Map());
  }

  get size(): number {
    return this.base.size - this.deleted.size + this.appended.size;
  }

  /** No overlay (a fresh table once done, or just folded): reads and iteration go straight to the base Map. */
  private get flat(): boolean {
    return this.replaced.size === 0 && this.deleted.size === 0 && this.appended.size === 0;
  }

  get(k: K): V | undefined {
    if (this.flat) return this.base.get(k);
    if (this.appended.has(k)) return this.appended.get(k);
    if (this.deleted.has(k)) return undefined;
    return this.replaced.has(k) ? this.replaced.get(k) : this.base.get(k);
  }

  has(k: K): boolean {
    return this.appended.has(k) || (!this.deleted.has(k) && this.base.has(k));
  }

  /** The native iterator of a flat version (a cold read iterates 10,000 entries: no generator, no pair per entry); else the layers. */
  entries(): IterableIterator<[K, V]> {
    return this.flat ? this.base.entries() : this.layeredEntries();
  }

  private *layeredEntries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.base) {
      if (this.deleted.has(k)) continue;
      yield [k, this.replaced.has(k) ? (this.replaced.get(k) as V) : v];
    }
    yield* this.appended;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  keys(): IterableIterator<K> {
    return this.flat ? this.base.keys() : this.layeredKeys();
  }

  private *layeredKeys(): IterableIterator<K> {
    for (const [k] of this.layeredEntries()) yield k;
  }

  values(): IterableIterator<V> {
    return this.flat ? this.base.values() : this.layeredValues();
  }

  private *layeredValues(): IterableIterator<V> {
    for (const [, v] of this.layeredEntries()) yield v;
  }

  /** A new version to change with set/delete until `done()`; this one stays as it is. */
  edit(): LayeredMap<K, V> {
    const next = new LayeredMap(this.base, new Map(this.replaced), new Set(this.deleted), new Map(this.appended));
    next.open = true;
    return next;
  }

  set(k: K, v: V): this {
    this.assertOpen();
    if (this.appended.has(k) || !this.base.has(k) || this.deleted.has(k)) this.appended.set(k, v);
    else this.replaced.set(k, v);
    return this;
  }

  delete(k: K): boolean {
    this.assertOpen();
    if (this.appended.delete(k)) return true;
    if (this.deleted.has(k) || !this.base.has(k)) return false;
    this.deleted.add(k);
    this.replaced.delete(k);
    return true;
  }

  /** Closes the edit; the version is read-only from now on. */
  done(): LayeredMap<K, V> {
    this.open = false;
    const overlay = this.replaced.size + this.deleted.size + this.appended.size;
    if (this.base.size === 0 && this.deleted.size === 0) [this.base, this.appended] = [this.appended, new Map()];
    else if (overlay > 32 + Math.sqrt(this.base.size)) [this.base, this.replaced, this.deleted, this.appended] = [new Map(this.entries()), new Map(), new Set(), new Map()];
    return this;
  }

  private assertOpen(): void {
    if (!this.open) throw new TypeError('a LayeredMap version is read-only: change a copy made with edit()');
  }
}
