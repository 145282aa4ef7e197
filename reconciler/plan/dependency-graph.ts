// The in-repo dependency graph of a desired state: which package produces each
// binary (debian/control's binary paragraphs), which Build-Depends (or an oci
// package's `install:`) name a binary another package of the repo produces,
// which oci package is built FROM another (`from: NAME`, layered images), and
// what cannot be built at all (a binary produced twice, a dependency cycle, a
// debian/control that does not parse). Pure; `order` lists packages
// dependencies-first.
import type { Alternative, Relation } from '../../debian/control.ts';
import type { DesiredPackage } from '../model.ts';

/** A Build-Depends alternative that names a binary of another package of the repo. */
export interface InRepoAlternative extends Alternative {
  /** The package (source) that produces the binary. */
  producer: string;
}

/** One Build-Depends relation with at least one in-repo alternative. */
export interface InRepoRelation {
  alternatives: InRepoAlternative[];
  /** As written (normalised): for messages. */
  text: string;
}

export interface Blocked {
  reason: 'duplicateBinary' | 'dependencyCycle' | 'badControl';
  message: string;
}

export interface DependencyGraph {
  /** binary name -> producing package (binaries produced twice are absent). */
  producer: Map<string, string>;
  /** package -> its in-repo relations (none for bootstrap packages: they do not wait). */
  relations: Map<string, InRepoRelation[]>;
  blocked: Map<string, Blocked>;
  /** oci package -> the oci package of this repo it is built FROM (layered images). */
  bases: Map<string, string>;
  /** Every package, each after the packages it depends on (a cycle's members adjacent). */
  order: string[];
}

export const formatAlternative = (a: Alternative) => (a.version ? `${a.name} (${a.version.op} ${a.version.version})` : a.name);

function producers(packages: ReadonlyMap<string, DesiredPackage>, blocked: Map<string, Blocked>): Map<string, string> {
  const byBinary = new Map<string, string[]>();
  for (const pkg of packages.values()) {
    if (!pkg.control?.ok) continue;
    for (const b of new Set(pkg.control.binaries)) byBinary.set(b, [...(byBinary.get(b) ?? []), pkg.name]);
  }
  const producer = new Map<string, string>();
  for (const [binary, names] of byBinary) {
    if (names.length === 1) {
      producer.set(binary, names[0]);
      continue;
    }
    const files = names.map((n) => packages.get(n)!.file).sort();
    for (const n of names) blocked.set(n, { reason: 'duplicateBinary', message: `binary package ${binary} is produced by more than one package (${files.join(', ')}); refused until only one produces it` });
  }
  return producer;
}

/** The base package of a layered image (`from:` naming a package), if any. */
export const basePackage = (pkg: DesiredPackage): string | undefined => (pkg.format === 'oci' && pkg.from && 'package' in pkg.from ? pkg.from.package : undefined);

/** What a package needs installed to build: its Build-Depends, or an oci package's `install:` list (any version). */
function declaredRelations(pkg: DesiredPackage): Relation[] {
  if (pkg.format === 'oci') return (pkg.install ?? []).map((name) => [{ name }]);
  return pkg.control?.ok && !pkg.bootstrap ? pkg.control.buildDepends : [];
}

function inRepoRelations(pkg: DesiredPackage, producer: Map<string, string>): InRepoRelation[] {
  const out: InRepoRelation[] = [];
  for (const rel of declaredRelations(pkg)) {
    const alternatives = rel.flatMap((a) => {
      const p = producer.get(a.name.replace(/:any$/, ''));
      return p !== undefined && p !== pkg.name ? [{ ...a, producer: p }] : [];
    });
    if (alternatives.length) out.push({ alternatives, text: rel.map(formatAlternative).join(' | ') });
  }
  return out;
}

const NO_EDGES: readonly string[] = Object.freeze([]);

/** Tarjan's strongly connected components, iterative (a 10k-long chain must not overflow the stack). Emits dependencies first. */
function components(nodes: string[], edges: (n: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const children = edges(root);
    if (children.length === 0) {
      // Nothing below it: its own component, done (most packages of a repo; no bookkeeping for each).
      index.set(root, next++);
      out.push([root]);
      continue;
    }
    const work: Array<{ node: string; children: readonly string[]; i: number }> = [];
    const enter = (n: string, children = edges(n)) => {
      index.set(n, next);
      low.set(n, next++);
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, children, i: 0 });
    };
    enter(root, children);
    while (work.length) {
      const top = work[work.length - 1];
      if (top.i < top.children.length) {
        const c = top.children[top.i++];
        if (!index.has(c)) enter(c);
        else if (onStack.has(c)) low.set(top.node, Math.min(low.get(top.node)!, index.get(c)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const scc: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          scc.push(n);
        } while (n !== top.node);
        out.push(scc);
      }
    }
  }
  return out;
}

// The graph depends only on each package's name, file, bootstrap flag and debian/control (an oci
// package's base and install list)
// (the reader hands out one object per source commit). A pass that changed only versions,
// rebuild counters or limits reuses the last graph: O(n) identity checks, no rebuild.
let last: { packages: ReadonlyMap<string, DesiredPackage>; graph: DependencyGraph } | undefined;

/** An oci package's part of the graph: its base package and its `install:` list. */
const ociShape = (p: DesiredPackage) => (p.format === 'oci' ? `${basePackage(p) ?? ''} ${(p.install ?? []).join(',')}` : '');

const sameShape = (a: DesiredPackage | undefined, b: DesiredPackage) =>
  a === b || (a !== undefined && a.control === b.control && a.bootstrap === b.bootstrap && a.file === b.file && ociShape(a) === ociShape(b));

export function dependencyGraph(packages: ReadonlyMap<string, DesiredPackage>): DependencyGraph {
  if (last && last.packages.size === packages.size && [...packages].every(([n, p]) => sameShape(last!.packages.get(n), p))) {
    last.packages = packages;
    return last.graph;
  }
  const graph = buildGraph(packages);
  last = { packages, graph };
  return graph;
}

function buildGraph(packages: ReadonlyMap<string, DesiredPackage>): DependencyGraph {
  const blocked = new Map<string, Blocked>();
  for (const pkg of packages.values()) if (pkg.control && !pkg.control.ok) blocked.set(pkg.name, { reason: 'badControl', message: pkg.control.message });
  const producer = producers(packages, blocked);
  const relations = new Map<string, InRepoRelation[]>();
  const bases = new Map<string, string>();
  for (const pkg of packages.values()) {
    relations.set(pkg.name, inRepoRelations(pkg, producer));
    const base = basePackage(pkg);
    if (base !== undefined && packages.has(base)) bases.set(pkg.name, base);
  }
  const names = [...packages.keys()].sort();
  const edges = (n: string) => {
    const base = bases.get(n);
    if (base === undefined && !relations.get(n)?.length) return NO_EDGES;
    return [...new Set([...(relations.get(n) ?? []).flatMap((r) => r.alternatives.map((a) => a.producer)), ...(base !== undefined ? [base] : [])])].sort();
  };
  const sccs = components(names, edges);
  for (const scc of sccs) {
    // A package built FROM itself is refused when the metadata is read; here only a cycle of two or more.
    if (scc.length < 2) continue;
    const files = scc.map((n) => packages.get(n)!.file).sort();
    const viaFrom = scc.some((n) => scc.includes(bases.get(n) ?? ''));
    const message = viaFrom
      ? `from: and in-repo dependencies form a cycle through ${files.join(', ')}; none of them is built until the cycle is broken`
      : `Build-Depends form a cycle through ${files.join(', ')}; none of them is built until one is marked bootstrap: true or the cycle is broken`;
    for (const n of scc) blocked.set(n, { reason: 'dependencyCycle', message });
  }
  return { producer, relations, blocked, bases, order: sccs.flat() };
}
