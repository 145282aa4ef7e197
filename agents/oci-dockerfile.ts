// The Dockerfile as Kiln builds it: its base pinned to an image by digest from the
// candidate registry (what the package's `from:` resolved to), never a tag the
// builder would look up. Pure. Only single-stage Dockerfiles are accepted for
// now: in a multi-stage file, which FROM is "the base" is a choice Kiln does not
// guess.

export type PinResult = { ok: true; text: string; replaced: string } | { ok: false; reason: string };

/** Instructions are case-insensitive; a line continuation or comment never starts with FROM. */
const FROM_LINE = /^(\s*FROM\s+)((?:--platform=\S+\s+)?)(\S+)(.*)$/i;

/** Replace the image of the one FROM instruction with `ref` (host/repo@sha256:…), keeping `AS name`. */
export function pinBaseImage(dockerfile: string, ref: string | undefined): PinResult {
  const lines = dockerfile.split('\n');
  const froms = lines.map((l, i) => ({ m: FROM_LINE.exec(l), i })).filter((x) => x.m);
  if (froms.length === 0) return { ok: false, reason: 'the Dockerfile has no FROM instruction' };
  if (froms.length > 1) return { ok: false, reason: `the Dockerfile has ${froms.length} FROM instructions (lines ${froms.map((f) => f.i + 1).join(', ')}); Kiln builds single-stage Dockerfiles only` };
  const { m, i } = froms[0];
  const [, head, platform, image, rest] = m!;
  if (ref === undefined) {
    // No `from:`: only `FROM scratch` is allowed, since anything else would be pulled by tag.
    if (image !== 'scratch') return { ok: false, reason: `line ${i + 1}: FROM ${image} names an image by tag; declare it as the package's \`from:\` (a digest or a Kiln oci package) or build FROM scratch` };
    return { ok: true, text: dockerfile, replaced: image };
  }
  lines[i] = `${head}${platform}${ref}${rest}`;
  return { ok: true, text: lines.join('\n'), replaced: image };
}
