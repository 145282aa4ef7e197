// The Dockerfile as Kiln builds it: its base pinned to an image by digest from the
// candidate registry (what the package's `from:` resolved to), never a tag the
// builder would look up, and no `COPY --from`, which in a single-stage file can
// only name another image on the agent's engine, outside the build key. Pure. Only
// single-stage Dockerfiles are accepted for now: in a multi-stage file, which FROM
// is "the base" is a choice Kiln does not guess.
//
// Instructions are read as Docker reads them (logicalLines, after buildkit's
// parser: its directives, its continuation rule): a `COPY \` whose `--from=`
// comes on a later line, after a comment or a blank line, is still a COPY --from.
// Hand-written: dockerfile-ast, the maintained parser, misses that last case,
// which Docker honours (checked on this engine). Where the two readings could
// still differ, the check fails closed: characters Docker may read as spaces are
// refused, any `--from` in a COPY counts, and each physical line is checked too.

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
/** A parser directive (on a line with its indent taken out), as Docker's parser (buildkit's reDirectives) matches it. */
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
/** The directives after which Docker goes on reading directives; any other line ends them. */
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax']);
const COMMENT = /^\s*#/;
const BLANK = /^\s*$/;
/**
 * Characters Docker's parser (Go's unicode.IsSpace, and a byte-wise scan of flags that splits at the bytes 0x85
 * and 0xA0) may read as a space where JavaScript does not, or the other way round, and a byte order mark: refused,
 * so that the file is read here as the engine reads it.
 */
const AMBIGUOUS_SPACE = /[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/**
 * The first of a base image's ONBUILD triggers (its config's `OnBuild`, each an instruction's text) that is a
 * `COPY --from`: it would run in the build FROM that base, reading another image than the pinned base.
 */
export function copyFromTrigger(triggers: readonly string[] | null | undefined): string | undefined {
  // Each trigger is read as a Dockerfile of its own: the engine refuses a trigger of more than one
  // instruction (a hand-made config may hold one), but checking each of them costs nothing.
  return (triggers ?? []).find((t) => copyFromLine(t) !== undefined);
}

/** The first character of `text` Docker's parser may read otherwise than JavaScript (AMBIGUOUS_SPACE), as U+XXXX; undefined if none. */
export function ambiguousSpace(text: string): string | undefined {
  const ch = AMBIGUOUS_SPACE.exec(text)?.[0];
  return ch === undefined ? undefined : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Whether an instruction (one logical line) is a COPY that may name another image, also as ONBUILD's trigger.
 * Fail closed: any `--from` in it once quotes and escape characters are taken out, wherever it stands (Docker
 * reads flags with its own quoting and word splitting; a source path holding `--from` is refused too).
 */
export function copiesFrom(text: string): boolean {
  const m = /^\s*(\S+)/.exec(text);
  if (!m) return false;
  const keyword = m[1].toUpperCase();
  const args = text.slice(m[0].length);
  if (keyword === 'ONBUILD') return copiesFrom(args);
  return keyword === 'COPY' && /--from/i.test(args.replace(/["'\\`]/g, ''));
}

/**
 * The line (1-based) of the first COPY naming another image: among the instructions, else among the physical
 * lines each on its own (a check beside logicalLines, should its joining of lines ever differ from the engine's).
 */
function copyFromLine(dockerfile: string, instructions = logicalLines(dockerfile)): number | undefined {
  const instruction = instructions.find((l) => copiesFrom(l.text));
  if (instruction) return instruction.line;
  const i = dockerfile.split(/\r?\n/).findIndex(copiesFrom);
  return i < 0 ? undefined : i + 1;
}

/** Whether `line` continues on the next one (Docker: `([^E])E[ \t]*$|^E[ \t]*$`, E the escape character); the text before the escape character if so. */
function continued(line: string, escape: string): string | undefined {
  const body = line.replace(/[ \t]*$/, '');
  if (!body.endsWith(escape)) return undefined;
  const before = body.slice(0, -1);
  if (before.length > 0 && before.endsWith(escape)) return undefined; // an escaped escape character
  return before;
}

/**
 * Docker's instructions with their lines: the parser directives at the top read (`# escape=` sets the line
 * continuation character, `\` by default; a line that is no escape or syntax directive ends them), comment lines
 * skipped, a line ending in the escape character joined with the next, and comment and blank lines inside such a
 * continuation dropped.
 */
export function logicalLines(dockerfile: string): LogicalLine[] {
  const lines = dockerfile.split(/\r?\n/);
  let escape = '\\';
  let start = 0;
  for (; start < lines.length; start++) {
    const d = DIRECTIVE.exec(lines[start].replace(/^\s+/, ''));
    const name = d?.[1].toLowerCase();
    if (!d || !KNOWN_DIRECTIVES.has(name!)) break;
    if (name === 'escape' && (d[2] === '`' || d[2] === '\\')) escape = d[2];
  }
  const out: LogicalLine[] = [];
  let open: LogicalLine | undefined;
  for (let i = start; i < lines.length; i++) {
    const raw = lines[i];
    if (COMMENT.test(raw) || (open && BLANK.test(raw))) continue;
    const before = continued(raw, escape);
    const piece = before ?? raw;
    if (open) {
      open.text += piece;
      open.last = i + 1;
    } else open = { line: i + 1, last: i + 1, text: piece };
    if (before === undefined) {
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
  const ambiguous = lines.findIndex((l) => ambiguousSpace(l) !== undefined);
  if (ambiguous >= 0) return { ok: false, reason: `line ${ambiguous + 1}: the character ${ambiguousSpace(lines[ambiguous])}, which Docker's parser may read otherwise than as written (a space, or a byte order mark); use plain spaces` };
  const copyFrom = copyFromLine(dockerfile, instructions);
  if (copyFrom !== undefined) return { ok: false, reason: `line ${copyFrom}: COPY --from reads another image than the pinned base, which the build key does not name; copy from the build context instead` };
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
