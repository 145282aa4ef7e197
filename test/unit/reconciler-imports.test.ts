// The reconciler's folders form layers: pass/ (with pass.ts) drives pipeline/
// (NATS I/O) and records/ (pure record logic), never the other way round. A
// cycle between folders means a concept lives in the wrong one.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../reconciler', import.meta.url));

/** `pass/collect-step.ts` and `pass.ts` both belong to unit `pass`. */
function unitOf(relPath: string): string {
  const [first] = relPath.split('/');
  return first.replace(/\.ts$/, '');
}

async function folderGraph(): Promise<Map<string, Map<string, string>>> {
  const files = (await readdir(ROOT, { recursive: true })).filter((f) => f.endsWith('.ts'));
  const graph = new Map<string, Map<string, string>>();
  for (const f of files) {
    const from = unitOf(f);
    const text = await readFile(join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = relative(ROOT, normalize(join(ROOT, dirname(f), m[1])));
      if (target.startsWith('..')) continue;
      const to = unitOf(target);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      graph.get(from)!.set(to, `reconciler/${f} imports ${m[1]}`);
    }
  }
  return graph;
}

/** The first cycle found, as the import lines that close it; undefined when acyclic. */
function findCycle(graph: Map<string, Map<string, string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') {
      const loop = [...stack.slice(stack.indexOf(n)), n];
      return loop.slice(1).map((to, i) => graph.get(loop[i])!.get(to)!);
    }
    state.set(n, 'open');
    stack.push(n);
    for (const to of graph.get(n)?.keys() ?? []) {
      const c = visit(to);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

test('reconciler imports - no import cycle between folders (pass/ and pipeline/ included)', async () => {
  const graph = await folderGraph();
  assert.ok(graph.get('pass')?.has('pipeline'), 'pass/ uses pipeline/ (sanity check of the scan)');
  assert.deepEqual(findCycle(graph), undefined);
});

test('reconciler imports - pipeline/ and records/ never import pass/', async () => {
  const graph = await folderGraph();
  const offenders = ['pipeline', 'records'].flatMap((u) => (graph.get(u)?.has('pass') ? [graph.get(u)!.get('pass')!] : []));
  assert.deepEqual(offenders, []);
});

test('reconciler imports - the cycle finder reports a planted cycle', () => {
  const g = new Map([
    ['pass', new Map([['pipeline', 'a imports b']])],
    ['pipeline', new Map([['pass', 'b imports a']])],
  ]);
  assert.deepEqual(findCycle(g), ['a imports b', 'b imports a']);
});
