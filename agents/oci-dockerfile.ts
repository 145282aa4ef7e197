// The Dockerfile as Kiln builds it: its base pinned to an image by digest from the
// candidate registry (what the package's `from:` resolved to), never a tag the
// builder would look up, and no `COPY --from`, which in a single-stage file can
// only name another image on the agent's engine, outside the build key. Pure. Only
// single-stage Dockerfiles are accepted for now: in a multi-stage file, which FROM
// is "the base" is a choice Kiln does not guess.
//
// Instructions are read as Docker reads them (logicalLines): a `COPY \` whose
// `--from=` comes on a later line, after a comment or a blank line, is still a
// COPY --from. Hand-written: dockerfile-ast, the maintained parser, misses that
// last case, which Docker honours (checked on this engine).

export type PinResult = { ok: true; text: string; replaced: string } | { ok: false; reason: string };

export interface LogicalLine {
  /** The first physical line (1-based) and the last one it spans. */
  line: number;
  last: number;
  text: string;
}

/** A FROM on one physical line; the keyword is case-insensitive. */
const FROM_LINE = /^(\s*FROM\s+)((?:--platform=\S+\s+)?)(\S+)(.*)$/i;
const FROM_INSTRUCTION = /^\s*FROM(\s|$)/i;
const DIRECTIVE = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/;
const COMMENT = /^\s*#/;
const BLANK = /^\s*$/;

/**
 * The first of a base image's ONBUILD triggers (its config's `OnBuild`, each an instruction's text) that is a
 * `COPY --from`: it would run in the build FROM that base, reading another image than the pinned base.
 */
export function copyFromTrigger(triggers: readonly string[] | null | undefined): string | undefined {
  // Docker parses each trigger as a Dockerfile of its own and runs every instruction in it: a trigger of
  // a hand-made config may hold several lines.
  return (triggers ?? []).find((t) => logicalLines(t).some((l) => copiesFrom(l.text)));
}

/** Whether an instruction (one logical line) is a COPY with a `--from` flag, also as ONBUILD's trigger. */
export function copiesFrom(text: string): boolean {
  const m = /^\s*(\S+)/.exec(text);
  if (!m) return false;
  const keyword = m[1].toUpperCase();
  const args = text.slice(m[0].length);
  if (keyword === 'ONBUILD') return copiesFrom(args);
  // Docker matches flag names exactly, so `--FROM` fails the build anyway; refusing it too costs nothing.
  return keyword === 'COPY' && builderFlags(args).some((f) => f.slice(2).split('=')[0].toLowerCase() === 'from');
}

/**
 * An instruction's flags as Docker's parser reads them (buildkit's extractBuilderFlags): the words at the
 * start of its arguments that begin with `--`, with quotes and backslash escapes taken out (`--"from"=x` and
 * `--fr\om=x` are `--from=x`); a word `--` alone, or the first word not beginning with `--`, ends them.
 */
export function builderFlags(args: string): string[] {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < args.length && /\s/.test(args[pos])) pos++;
    if (!args.startsWith('--', pos)) return flags;
    let word = '';
    let quote: string | undefined;
    for (; pos < args.length && (quote !== undefined || !/\s/.test(args[pos])); pos++) {
      const ch = args[pos];
      if (quote === undefined && (ch === "'" || ch === '"')) quote = ch;
      else if (ch === quote) quote = undefined;
      else if (ch === '\\') {
        if (pos + 1 < args.length) word += args[++pos];
      } else word += ch;
    }
    if (word === '--') return flags;
    flags.push(word);
  }
}

/**
 * Docker's instructions with their lines: the parser directives at the top read (`# escape=` sets the line
 * continuation character, `\` by default), comment lines skipped, a line ending in the escape character joined
 * with the next, and comment and blank lines inside such a continuation dropped.
 */
export function logicalLines(dockerfile: string): LogicalLine[] {
  const lines = dockerfile.split(/\r?\n/);
  let escape = '\\';
  let start = 0;
  for (; start < lines.length; start++) {
    const d = DIRECTIVE.exec(lines[start]);
    if (!d) break;
    if (d[1].toLowerCase() === 'escape' && (d[2] === '`' || d[2] === '\\')) escape = d[2];
  }
  const out: LogicalLine[] = [];
  let open: LogicalLine | undefined;
  for (let i = start; i < lines.length; i++) {
    const raw = lines[i];
    if (COMMENT.test(raw) || (open && BLANK.test(raw))) continue;
    const trimmed = raw.trimEnd();
    const continues = trimmed.endsWith(escape);
    const piece = continues ? trimmed.slice(0, -1) : raw;
    if (open) {
      open.text += piece;
      open.last = i + 1;
    } else open = { line: i + 1, last: i + 1, text: piece };
    if (!continues) {
      if (!BLANK.test(open.text)) out.push(open);
      open = undefined;
    }
  }
  if (open && !BLANK.test(open.text)) out.push(open);
  return out;
}

/** Replace the image of the one FROM instruction with `ref` (host/repo@sha256:…), keeping `AS name`. */
export function pinBaseImage(dockerfile: string, ref: string | undefined): PinResult {
  const lines = dockerfile.split(/\r?\n/);
  const instructions = logicalLines(dockerfile);
  const froms = instructions.filter((l) => FROM_INSTRUCTION.test(l.text));
  if (froms.length === 0) return { ok: false, reason: 'the Dockerfile has no FROM instruction' };
  if (froms.length > 1) return { ok: false, reason: `the Dockerfile has ${froms.length} FROM instructions (lines ${froms.map((f) => f.line).join(', ')}); Kiln builds single-stage Dockerfiles only` };
  const copyFrom = instructions.find((l) => copiesFrom(l.text));
  if (copyFrom) return { ok: false, reason: `line ${copyFrom.line}: COPY --from reads another image than the pinned base, which the build key does not name; copy from the build context instead` };
  const from = froms[0];
  const m = FROM_LINE.exec(lines[from.line - 1]);
  if (from.last !== from.line || !m) return { ok: false, reason: `line ${from.line}: write the FROM instruction on one line (Kiln replaces its image with the pinned base)` };
  const [, head, platform, image, rest] = m;
  if (ref === undefined) {
    // No `from:`: only `FROM scratch` is allowed, since anything else would be pulled by tag.
    if (image !== 'scratch') return { ok: false, reason: `line ${from.line}: FROM ${image} names an image by tag; declare it as the package's \`from:\` (a digest or a Kiln oci package) or build FROM scratch` };
    return { ok: true, text: lines.join('\n'), replaced: image };
  }
  lines[from.line - 1] = `${head}${platform}${ref}${rest}`;
  return { ok: true, text: lines.join('\n'), replaced: image };
}
