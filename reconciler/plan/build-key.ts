// Build identity (DESIGN.md "Identity"): the sha256 of the canonical JSON
// (RFC 8785) of every input that determines a build's output. It is the
// dedup id, the status record's name and the cache key.
import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildInputs } from '../../schema/status.ts';
import type { DesiredPackage } from '../model.ts';
import { packageFormat } from '../formats/index.ts';
import type { RecipeContext } from '../formats/format.ts';

export function buildKey(inputs: BuildInputs): string {
  const json = canonicalJson(inputs);
  if (json === undefined) throw new TypeError('build inputs are not serialisable');
  // One-shot hash: no Hash object per key (same bytes as createHash().update().digest('hex')).
  return hash('sha256', json, 'hex');
}

/** The inputs of one package built for one architecture. */
export function buildInputs(pkg: DesiredPackage, arch: Architecture, builtAgainst?: Record<string, string>, binNMU = 0, context: RecipeContext = {}): BuildInputs {
  return {
    package: pkg.name,
    version: pkg.version,
    source: { url: pkg.source.url, commit: pkg.source.commit, ...(pkg.source.subdir ? { subdir: pkg.source.subdir } : {}) },
    recipe: packageFormat(pkg).recipe(pkg, context),
    image: pkg.image,
    arch,
    target: pkg.format,
    // Absent when there are none, so keys of packages without in-repo dependencies are unchanged.
    ...(builtAgainst ? { builtAgainst } : {}),
    ...(binNMU > 0 ? { binNMU } : {}),
  };
}
