// Before any rpm build is dispatched, the package file's name and version are
// held against what its spec declares, as rpm itself evaluates it: the spec's
// blob at the pinned commit goes through `rpmspec -q --qf` in a locked-down
// container of the package's build image (rpm/spec-query.ts), never a spec
// parser of ours. A mismatch or a spec rpm cannot parse is an error at the
// package file's line (the metadata commit is refused, nothing is dispatched).
// Cached by (spec blob id, image): the same bytes in the same image say the
// same thing, so a pass over unchanged specs starts no container.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type Docker from 'dockerode';
import { SourceResolveError, type Diagnostic } from '../../schema/errors.ts';
import { printable, quote } from '../../schema/quote.ts';
import { evr, querySpec, type SpecFacts, type SpecQueryResult } from '../../rpm/spec-query.ts';
import type { DesiredPackage, RpmPackage } from '../model.ts';
import { RPM_IMAGE } from './normalise.ts';
import { readSourceBlob, type SourceBlob } from './source-blob.ts';
import { lookup, type PositionIndex } from './yaml-positions.ts';
import pMap from 'p-map';

export interface SpecSource {
  url: string;
  ref: string;
  commit: string;
  subdir?: string;
  /** Relative to the subdir, as the package file names it. */
  spec: string;
  image: string;
}

export type SpecFinding =
  | { kind: 'facts'; facts: SpecFacts }
  | { kind: 'unparsable'; message: string }
  | { kind: 'missing' }
  /** Not checked here (no such image on this host, the engine unreachable): the agent checks it before building. */
  | { kind: 'unchecked'; why: string };

/** Throws only for transient trouble (a source remote that cannot be reached). */
export type SpecChecker = (src: SpecSource) => Promise<SpecFinding>;

/** A spec is a few KiB; anything bigger is not one. */
export const MAX_SPEC_BYTES = 1 << 20;

/** Runs rpmspec on the spec's bytes alone (a spec that `%include`s other files of its tree cannot be checked here). */
async function queryBlob(docker: Docker, blob: SourceBlob, src: SpecSource): Promise<SpecQueryResult> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-spec-'));
  try {
    // rpmspec runs as nobody: the tree must be readable by others.
    await chmod(dir, 0o755);
    const path = join(dir, src.spec);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFile(path, blob.bytes, { mode: 0o644 });
    return await querySpec(docker, { image: src.image, dir, spec: src.spec, labels: { 'kiln.component': 'reconciler' } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function dockerSpecChecker(docker: Docker, opts: { headers?: Record<string, string> } = {}): SpecChecker {
  const blobs = new Map<string, Promise<SourceBlob | undefined>>();
  const queries = new Map<string, Promise<SpecQueryResult>>();
  const remember = <T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> => {
    let hit = map.get(key);
    if (!hit) {
      hit = make();
      // A failure is not remembered: the next pass tries again.
      hit.catch(() => map.delete(key));
      map.set(key, hit);
    }
    return hit;
  };
  return async (src) => {
    const filepath = posix.join(src.subdir ?? '', src.spec);
    const blob = await remember(blobs, `${src.url}\n${src.commit}\n${filepath}`, () => readSourceBlob(src, filepath, opts.headers));
    if (!blob) return { kind: 'missing' };
    if (blob.bytes.length > MAX_SPEC_BYTES) return { kind: 'unparsable', message: `${src.spec} is ${blob.bytes.length} bytes; the limit is ${MAX_SPEC_BYTES}` };
    try {
      await docker.getImage(src.image).inspect();
    } catch (e) {
      return { kind: 'unchecked', why: imageUnavailable(src.image, e) };
    }
    const q = await remember(queries, `${blob.oid}\n${src.image}`, () => queryBlob(docker, blob, src));
    return q.ok ? { kind: 'facts', facts: q.facts } : { kind: 'unparsable', message: q.message };
  };
}

/** Why the image cannot run here: not on this host, or no engine answering at all. */
function imageUnavailable(image: string, e: unknown): string {
  const status = (e as { statusCode?: number }).statusCode;
  if (status === 404) return `image ${quote(image)} is not on this host${image === RPM_IMAGE ? ' (scripts/setup-host builds it)' : ''}`;
  return `no Docker engine answers: ${(e as Error).message}`;
}

/**
 * For the commands a person or CI runs (`kiln validate`, `kiln check`): a source
 * that cannot be fetched now leaves the spec unchecked with a warning instead of
 * failing the whole check; the reconciler retries such trouble on its next pass.
 */
export function uncheckedWhenUnreachable(check: SpecChecker): SpecChecker {
  return async (src) => {
    try {
      return await check(src);
    } catch (e) {
      if (e instanceof SourceResolveError && e.kind === 'transient') return { kind: 'unchecked', why: e.message };
      throw e;
    }
  };
}

/** One checker per Docker client, so its cache lives as long as the process. */
const checkers = new WeakMap<Docker, SpecChecker>();
export function specCheckerFor(docker: Docker): SpecChecker {
  let c = checkers.get(docker);
  if (!c) checkers.set(docker, (c = dockerSpecChecker(docker)));
  return c;
}

/** Pure: the diagnostics of one rpm package file given what its spec says. */
export function specDiagnostics(pkg: Pick<RpmPackage, 'file' | 'name' | 'version' | 'spec' | 'image' | 'source'>, positions: PositionIndex, finding: SpecFinding): Diagnostic[] {
  const at = (pointer: string, message: string, severity: Diagnostic['severity'] = 'error'): Diagnostic => {
    const p = lookup(positions, pointer);
    return { file: pkg.file, line: p.line, col: p.col, path: pointer, severity, message };
  };
  const specPath = posix.join(pkg.source.subdir ?? '', pkg.spec);
  switch (finding.kind) {
    case 'missing':
      return [at('/spec', `spec: there is no ${specPath} in ${printable(pkg.source.url)} at ${pkg.source.commit.slice(0, 12)}`)];
    case 'unparsable':
      return [at('/spec', `spec: ${finding.message}`)];
    case 'unchecked':
      return [at('/spec', `spec: name and version not checked against ${specPath} (${finding.why}); the agent checks them before building`, 'warning')];
    case 'facts': {
      const out: Diagnostic[] = [];
      const f = finding.facts;
      if (f.name !== pkg.name) out.push(at('/name', `name: ${pkg.name} differs from ${specPath}, which declares Name: ${f.name} (rpmspec in ${pkg.image})`));
      const declared = evr(f);
      if (declared !== pkg.version) {
        const fields = `${f.epoch ? `Epoch: ${f.epoch}, ` : ''}Version: ${f.version}, Release: ${f.release}`;
        out.push(at('/version', `version: ${pkg.version} differs from ${specPath}, which declares ${declared} (${fields}; rpmspec in ${pkg.image})`));
      }
      return out;
    }
  }
}

/** The diagnostics of every rpm package (the others have no spec). */
export async function checkSpecs(packages: Iterable<DesiredPackage>, positionsOf: (file: string) => PositionIndex, check: SpecChecker): Promise<Diagnostic[]> {
  const rpms = [...packages].filter((p): p is RpmPackage => p.format === 'rpm');
  // Each unseen spec starts a container: a few at a time.
  const found = await pMap(rpms, (p) => check({ url: p.source.url, ref: p.source.ref, commit: p.source.commit, ...(p.source.subdir ? { subdir: p.source.subdir } : {}), spec: p.spec, image: p.image }), { concurrency: 4 });
  return rpms.flatMap((p, i) => specDiagnostics(p, positionsOf(p.file), found[i]));
}
