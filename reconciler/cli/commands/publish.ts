// A manual publish of a directory of .debs into one signed apt repository:
// for operators, and for trying a repository out without a metadata repo.
// The directory is the COMPLETE content: .debs not in it leave the suite.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../../schema/errors.ts';
import type { Architecture } from '../../../schema/metadata.ts';
import { ARCHITECTURES } from '../../../schema/metadata.ts';
import { loadReconcilerSigner } from '../../keys/load-signer.ts';
import type { DesiredDistribution } from '../../model.ts';
import { field, parseDsc, publishApt, readDebControl, sourceVersionMatches, type PublishFile, type PublishPackage, type PublishReport } from '../../publish/index.ts';
import { flag, num, str, type Command } from '../command.ts';
import { SIGNING_KEY_OPTION, signingKeySource } from '../options.ts';

async function inputFile(dir: string, name: string): Promise<{ file: PublishFile; bytes: Buffer }> {
  const path = join(dir, name);
  const bytes = await readFile(path);
  return { file: { name, path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }, bytes };
}

async function packagesIn(dir: string): Promise<PublishPackage[]> {
  const all = (await readdir(dir)).sort();
  const out: PublishPackage[] = [];
  for (const name of all.filter((n) => n.endsWith('.deb'))) {
    const { file, bytes } = await inputFile(dir, name);
    const control = await readDebControl(bytes, file.path);
    const source = (field(control, 'Source') ?? field(control, 'Package')!).replace(/\s*\(.*\)$/, '');
    out.push({ name: source, version: field(control, 'Version')!, arch: field(control, 'Architecture')!, files: [file] });
  }
  // A source package (.dsc and the files it lists) goes with its binaries, or alone.
  for (const name of all.filter((n) => n.endsWith('.dsc'))) {
    const { file, bytes } = await inputFile(dir, name);
    const dsc = parseDsc(bytes.toString('utf8'), file.path);
    const listed = (n: string) =>
      inputFile(dir, n).then(
        (x) => x.file,
        () => Promise.reject(new UsageError(`${file.path} lists ${n}, which is not in ${dir}`)),
      );
    const files = [file, ...(await Promise.all(dsc.files.map((f) => listed(f.name))))];
    const binaries = out.filter((p) => p.name === dsc.source && sourceVersionMatches(dsc.version, p.version));
    if (binaries.length) for (const p of binaries) p.files.push(...files);
    else out.push({ name: dsc.source, version: dsc.version, arch: 'source', files });
  }
  return out;
}

function architectures(values: string[]): Architecture[] {
  for (const a of values) if (!(ARCHITECTURES as readonly string[]).includes(a)) throw new UsageError(`--arch ${a}: not one of ${ARCHITECTURES.join(', ')}`);
  return values as Architecture[];
}

const command: Command = {
  path: ['publish'],
  summary: 'Publish a directory of .debs as a signed apt repository.',
  description:
    'Makes REPOS/<dist> a signed apt repository (InRelease, Release.gpg, by-hash indexes) holding exactly the .debs and source packages (.dsc with the files it lists) in DEBS.\n' +
    'Incremental: run it again after adding or removing .debs. The signing key comes from --signing-key or KILN_SIGNING_KEY(_FILE).',
  options: {
    repos: { type: 'string', valueName: 'DIR', description: 'The repositories root (what `kiln serve` serves).' },
    dist: { type: 'string', valueName: 'NAME', description: 'Distribution (repository) name.' },
    suite: { type: 'string', valueName: 'SUITE', description: 'Suite name (default: the distribution name).' },
    codename: { type: 'string', valueName: 'NAME', description: 'Codename (default: the suite).' },
    component: { type: 'string', valueName: 'NAME', description: 'Component.', default: 'main' },
    arch: { type: 'string', valueName: 'ARCH', multiple: true, description: 'Architectures of the indexes (repeatable; default amd64).' },
    origin: { type: 'string', valueName: 'TEXT', description: 'Release Origin.', default: 'Kiln' },
    label: { type: 'string', valueName: 'TEXT', description: 'Release Label (default: the origin).' },
    'valid-days': { type: 'string', valueName: 'N', description: 'Add Valid-Until, N days after Date.' },
    'signing-key': SIGNING_KEY_OPTION,
    link: { type: 'boolean', description: 'Hard-link the .debs into the pool instead of copying (never rewrite them in place afterwards).' },
  },
  positionals: [{ name: 'DEBS', description: 'Directory of .deb files (and .dsc source packages): the complete content of the suite.', required: true }],
  examples: ['kiln publish --repos ./repos --dist stable --signing-key kiln.key ./out'],
  async run(args, ctx) {
    const repos = str(args, 'repos');
    const name = str(args, 'dist');
    if (!repos || !name) throw new UsageError("publish needs --repos DIR and --dist NAME\nRun 'kiln publish --help' for usage.");
    const debs = args.positionals[0];
    if (!(await stat(debs).catch(() => undefined))?.isDirectory()) throw new UsageError(`${debs}: not a directory`);
    const suite = str(args, 'suite') ?? name;
    const validForDays = num(args, 'valid-days');
    const archValues = args.values.arch;
    const distribution: DesiredDistribution = {
      name,
      file: `--dist ${name}`,
      format: 'apt',
      suite,
      codename: str(args, 'codename') ?? suite,
      components: [str(args, 'component') ?? 'main'],
      architectures: architectures(Array.isArray(archValues) && archValues.length ? archValues : ['amd64']),
      origin: str(args, 'origin') ?? 'Kiln',
      label: str(args, 'label') ?? str(args, 'origin') ?? 'Kiln',
      keep: 1000,
      gate: 'none',
      ...(validForDays ? { validForDays } : {}),
    };
    const now = new Date();
    const signer = await loadReconcilerSigner(signingKeySource(args, ctx.env), now);
    const packages = await packagesIn(debs);
    const report: PublishReport = await publishApt({ root: repos, distribution, packages, signer, now, log: ctx.log, inputs: flag(args, 'link') ? 'link' : 'copy' });
    const human = report.changed
      ? `published ${name}/${suite}: ${report.packages} .debs, ${report.sources} source packages (+${report.filesAdded.length} new, ${report.filesRemoved.length} removed), Release ${report.releaseSha256.slice(0, 12)}… signed by ${report.signedBy}`
      : `${name}/${suite} already holds exactly these ${report.packages} .debs`;
    return { data: report, human };
  },
};
export default command;
