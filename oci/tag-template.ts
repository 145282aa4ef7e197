// `tags:` templates of an oci package: `{version}`, `{version}-{build}`, `latest`.
// Pure. A rendered tag must be a valid OCI tag; an unknown placeholder is refused
// when the metadata is read (tagTemplateProblem), never at release time.
const PLACEHOLDER = /\{([^{}]*)\}/g;
export const TAG_PLACEHOLDERS = ['version', 'build'] as const;
export type TagValues = Record<(typeof TAG_PLACEHOLDERS)[number], string>;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Why `template` cannot be used (undefined: it can). */
export function tagTemplateProblem(template: string): string | undefined {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(TAG_PLACEHOLDERS as readonly string[]).includes(m[1])) return `unknown placeholder {${m[1]}} in tag template '${template}' (known: ${TAG_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`;
  }
  const sample = renderTag(template, { version: '1.0', build: '1' }, false);
  if (!TAG.test(sample)) return `tag template '${template}' does not make a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`;
  return undefined;
}

/** The tag for one version. Characters a tag cannot hold (`~`, `+`, `:`) become `_`, as Debian-style versions need. */
export function renderTag(template: string, values: TagValues, check = true): string {
  const tag = template.replace(PLACEHOLDER, (_, name: string) => (values as Record<string, string>)[name] ?? '').replace(/[^A-Za-z0-9_.-]/g, '_');
  if (check && !TAG.test(tag)) throw new Error(`tag template '${template}' made an invalid tag '${tag}'`);
  return tag;
}
