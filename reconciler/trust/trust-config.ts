// The `trust` section of kiln.yaml, read on its own: trust is decided before
// (and whatever) the rest of the metadata validates to. Pure.
import { parse } from 'yaml';
import { validators } from '../../schema/validate.ts';
import { METADATA_LAYOUT, METADATA_LIMITS } from '../../schema/metadata.ts';
import { loneCarriageReturn } from '../desired/source-text.ts';

export interface TrustConfig {
  keys: string[];
  requireSignedCommits: boolean;
  problems: string[];
}

/** `text` undefined: no kiln.yaml at that commit, so nothing is trusted. */
export function parseTrustConfig(text: string | undefined): TrustConfig {
  const file = METADATA_LAYOUT.config;
  if (text === undefined) return { keys: [], requireSignedCommits: true, problems: [`${file} is missing: no key is trusted`] };
  if (text.length > METADATA_LIMITS.maxFileBytes) return { keys: [], requireSignedCommits: true, problems: [`${file} is larger than ${METADATA_LIMITS.maxFileBytes} bytes`] };
  // YAML would read it as one line (a comment, say) and find no trust section at all.
  const cr = loneCarriageReturn(text);
  if (cr) return { keys: [], requireSignedCommits: true, problems: [`${file}:${cr.line}:${cr.col}: line endings are CR only (classic Mac OS); no key is trusted`] };
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: METADATA_LIMITS.maxAliasCount });
  } catch (e) {
    return { keys: [], requireSignedCommits: true, problems: [`${file}: ${(e as Error).message.split('\n')[0]}`] };
  }
  const trust = doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>).trust : undefined;
  if (trust === undefined) return { keys: [], requireSignedCommits: true, problems: [] };
  // Validate only the trust section against the kiln.yaml schema.
  if (!validators.kilnConfig({ trust })) {
    const msg = (validators.kilnConfig.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    return { keys: [], requireSignedCommits: true, problems: [`${file}: invalid trust section: ${msg}`] };
  }
  const t = trust as { keys?: string[]; requireSignedCommits?: boolean };
  return { keys: t.keys ?? [], requireSignedCommits: t.requireSignedCommits ?? true, problems: [] };
}
