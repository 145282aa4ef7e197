// The facts of an rpm header that collect records with a signed copy (schema/status.ts
// signed[].rpm) and a publish by the same key trusts instead of reading the header again:
// everything the publisher's name rules and file name use, `source` included, so both paths
// name and judge a package the same way.
import { RPM_HEADER_ARCHES, type RpmHeaderArch, type RpmHeaderFacts } from '../../../schema/status.ts';
import type { RpmHeader } from './read-rpm.ts';

const isRpmHeaderArch = (arch: string): arch is RpmHeaderArch => (RPM_HEADER_ARCHES as readonly string[]).includes(arch);

/** What is recorded of `h`; undefined for an architecture no Kiln build makes (nothing trusted: rpm reads it at publish). */
export function headerFacts(h: RpmHeader): RpmHeaderFacts | undefined {
  if (!isRpmHeaderArch(h.arch)) return undefined;
  return { name: h.name, ...(h.epoch !== undefined ? { epoch: h.epoch } : {}), version: h.version, release: h.release, arch: h.arch, source: h.source };
}
