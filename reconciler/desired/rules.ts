// Semantic rules across files: what JSON Schema cannot say. Each rule is a
// small pure function from the parsed set to diagnostics, so each can be
// table-tested alone; RULES runs them all.
import { ociFrom } from './normalise.ts';
import { tagTemplateProblem } from '../../oci/tag-template.ts';
import { posix } from 'node:path';
import type { Diagnostic } from '../../schema/errors.ts';
import type { DistributionDoc, KilnConfigDoc, PackageDoc } from '../../schema/metadata.ts';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import type { DesiredConfig } from '../model.ts';
import { formatNamed } from '../formats/index.ts';
import { didYouMean } from './did-you-mean.ts';
import { lookup, type PositionIndex } from './yaml-positions.ts';
import { quote } from '../../schema/quote.ts';
import { ociArchitectures, ociPlatform } from '../../oci/platform.ts';

export interface Located<T> {
  path: string;
  doc: T;
  positions: PositionIndex;
}

export interface RuleInput {
  config?: Located<KilnConfigDoc>;
  /** The normalised config (defaults applied). */
  resolvedConfig: DesiredConfig;
  packages: Located<PackageDoc>[];
  distributions: Located<DistributionDoc>[];
  /** Every path in the tree under keys/. */
  keyFiles: ReadonlySet<string>;
  /** Package/distribution files that failed to parse: names they may declare are not reported missing. */
  unparsed?: ReadonlySet<string>;
  /** kiln.yaml exists but failed to parse: rules that need its pools stay silent. */
  configBroken?: boolean;
}

export type Rule = (input: RuleInput) => Diagnostic[];

/**
 * A rule about one package file given everything but the other packages: its answer for an
 * unchanged file under an unchanged context is kept between passes (RuleMemo).
 */
export type PackageRule = (p: Located<PackageDoc>, input: RuleInput) => Diagnostic[];

/** The package-file half of a rule, run over every package. */
const eachPackage =
  (rule: PackageRule): Rule =>
  (input) =>
    input.packages.flatMap((p) => rule(p, input));

function at<T>(f: Located<T>, pointer: string, message: string, which: 'value' | 'key' = 'value'): Diagnostic {
  const { line, col } = lookup(f.positions, pointer, which);
  return { file: f.path, line, col, message, path: pointer, severity: 'error' };
}

const where = (f: Located<unknown>, pointer: string) => {
  const { line } = lookup(f.positions, pointer);
  return `${f.path}:${line}`;
};

function duplicates<T extends { name: string }>(files: Located<T>[], what: string): Diagnostic[] {
  // A list only for a name seen twice, not a one-element list for each of 10,000 names.
  const first = new Map<string, Located<T>>();
  const again = new Map<string, Located<T>[]>();
  for (const f of files) {
    const seen = first.get(f.doc.name);
    if (!seen) first.set(f.doc.name, f);
    else if (again.has(f.doc.name)) again.get(f.doc.name)!.push(f);
    else again.set(f.doc.name, [seen, f]);
  }
  const out: Diagnostic[] = [];
  if (again.size === 0) return out;
  for (const name of first.keys()) {
    const fs = again.get(name);
    if (!fs) continue;
    for (const f of fs) {
      const others = fs.filter((o) => o !== f).map((o) => where(o, '/name'));
      out.push(at(f, '/name', `${what} ${quote(name)} is declared more than once (also in ${others.join(', ')})`));
    }
  }
  return out;
}

export const uniquePackageNames: Rule = ({ packages }) => duplicates(packages, 'package');
export const uniqueDistributionNames: Rule = ({ distributions }) => duplicates(distributions, 'distribution');

/** Two distributions cannot publish to the same dists/<codename>. */
export const uniqueCodenames: Rule = ({ distributions }) => {
  const seen = new Map<string, Located<DistributionDoc>>();
  const out: Diagnostic[] = [];
  for (const d of distributions) {
    if (d.doc.format !== 'apt') continue;
    const codename = d.doc.codename ?? d.doc.suite;
    const first = seen.get(codename);
    if (first && first.doc.name !== d.doc.name) {
      out.push(at(d, d.doc.codename ? '/codename' : '/suite', `codename ${quote(codename)} is already used by distribution ${quote(first.doc.name)} (${where(first, '/name')}); each distribution needs its own`));
    } else if (!first) seen.set(codename, d);
  }
  return out;
};

/** packages/hello.yaml must declare `name: hello`, so a name maps to one file. */
const nameMismatch = (f: Located<{ name: string }>): Diagnostic[] =>
  posix.basename(f.path, '.yaml') === f.doc.name
    ? []
    : [at(f, '/name', `name ${quote(f.doc.name)} does not match the file name: ${f.path} must declare name: ${posix.basename(f.path, '.yaml')} (or rename the file to ${posix.dirname(f.path)}/${f.doc.name}.yaml)`)];
const packageFileName: PackageRule = (p) => nameMismatch(p);
const distributionFileNames: Rule = ({ distributions }) => distributions.flatMap(nameMismatch);
export const fileNameMatchesName: Rule = (input) => [...eachPackage(packageFileName)(input), ...distributionFileNames(input)];

/** A package rule's answer when it has nothing to say: shared, never changed. */
const NONE: Diagnostic[] = [];
Object.freeze(NONE);

/**
 * The problems `check` finds in the items of a list (undefined: none), NONE when it finds none: a
 * package rule runs for each of 10,000 packages, and flatMap made a list per item and per call.
 */
function eachItem<T>(items: readonly T[] | undefined, check: (item: T, i: number) => Diagnostic | undefined): Diagnostic[] {
  let out = NONE;
  for (let i = 0; items && i < items.length; i++) {
    const d = check(items[i], i);
    if (d) {
      if (out === NONE) out = [d]; // a fresh list: NONE itself is shared and frozen
      else out.push(d);
    }
  }
  return out;
}

/** Each package's version is valid in its format (deb: Debian policy 5.6.12). */
const formatVersion: PackageRule = (p) => {
  const format = formatNamed(p.doc.format);
  const problem = format?.versionProblem(p.doc.version);
  return format && problem ? [at(p, '/version', `version ${quote(p.doc.version)} is not a valid ${format.versionLabel}: ${problem}`)] : NONE;
};
export const formatVersions: Rule = eachPackage(formatVersion);

const declaredElsewhere = (unparsed: ReadonlySet<string> | undefined, name: string) => unparsed?.has(`${METADATA_LAYOUT.distributionsDir}/${name}.yaml`) ?? false;

/** What package rules look up in the context, worked out once per input rather than once per package (10,000 on a cold read). */
interface ContextView {
  /** Distribution names in file order (suggestions list them so). */
  distributionNames: string[];
  /** By name; of duplicates the last, as a Map of the list has it. */
  distributionByName: Map<string, Located<DistributionDoc>>;
  pools: string[];
}
const views = new WeakMap<RuleInput, ContextView>();

function viewOf(input: RuleInput): ContextView {
  let v = views.get(input);
  if (!v) {
    const distributionByName = new Map(input.distributions.map((d) => [d.doc.name, d]));
    views.set(input, (v = { distributionNames: input.distributions.map((d) => d.doc.name), distributionByName, pools: Object.keys(input.resolvedConfig.pools) }));
  }
  return v;
}

const releaseTargets: PackageRule = (p, input) => {
  const { unparsed } = input;
  const names = viewOf(input).distributionNames;
  return eachItem(p.doc.release, (r, i) =>
    names.includes(r) || declaredElsewhere(unparsed, r) ? undefined : at(p, `/release/${i}`, `release: no distribution named ${quote(r)}${didYouMean(r, names)} (declare it in ${METADATA_LAYOUT.distributionsDir}/${r}.yaml)`),
  );
};
export const releaseTargetsExist: Rule = eachPackage(releaseTargets);

const architecturesInDistributions: PackageRule = (p, input) =>
  eachItem(p.doc.release, (r, ri) => {
    const dist = viewOf(input).distributionByName.get(r); // the last of duplicates
    if (!dist) return undefined;
    const has = dist.doc.architectures as readonly string[];
    if (p.doc.architectures.every((a) => has.includes(a))) return undefined;
    const missing = p.doc.architectures.filter((a) => !has.includes(a));
    return at(p, `/release/${ri}`, `architectures ${missing.join(', ')} of package ${quote(p.doc.name)} are not in distribution ${quote(r)} (which has ${dist.doc.architectures.join(', ')}; ${where(dist, '/architectures')})`);
  });
export const architecturesWithinDistributions: Rule = eachPackage(architecturesInDistributions);

const defaultPoolExists: Rule = ({ config, resolvedConfig, configBroken }) => {
  if (configBroken) return [];
  const pools = Object.keys(resolvedConfig.pools);
  if (config?.doc.defaults?.pool === undefined || pools.includes(config.doc.defaults.pool)) return [];
  return [at(config, '/defaults/pool', `defaults.pool: no pool named ${quote(config.doc.defaults.pool)}${didYouMean(config.doc.defaults.pool, pools)}; pools are: ${pools.join(', ')}`)];
};
const packagePoolExists: PackageRule = (p, input) => {
  const { resolvedConfig, configBroken } = input;
  if (configBroken) return NONE;
  const pools = viewOf(input).pools;
  const pool = p.doc.pool ?? resolvedConfig.defaults.pool;
  if (pools.includes(pool)) return NONE;
  if (p.doc.pool !== undefined) return [at(p, '/pool', `pool: no pool named ${quote(pool)}${didYouMean(pool, pools)}; kiln.yaml declares: ${pools.join(', ')}`)];
  return [at(p, '', `package uses the default pool ${quote(pool)}, which kiln.yaml does not declare (pools: ${pools.join(', ')}); set pool: or defaults.pool`)];
};
export const poolsExist: Rule = (input) => [...defaultPoolExists(input), ...eachPackage(packagePoolExists)(input)];

const architecturesInPool: PackageRule = (p, { resolvedConfig, configBroken }) => {
  if (configBroken) return NONE;
  const pool = resolvedConfig.pools[p.doc.pool ?? resolvedConfig.defaults.pool];
  if (!pool || p.doc.architectures.every((a) => pool.architectures.includes(a))) return NONE;
  const missing = p.doc.architectures.filter((a) => !pool.architectures.includes(a));
  return [at(p, '/architectures', `architectures ${missing.join(', ')} cannot be built: pool ${quote(p.doc.pool ?? resolvedConfig.defaults.pool)} has only ${pool.architectures.join(', ')}`)];
};
export const architecturesWithinPool: Rule = eachPackage(architecturesInPool);

/** Pure: a promoted registry distribution on the same registry as the one it promotes from. */
export const sharedRegistry = (d: { format?: unknown; url?: unknown }, from: { format?: unknown; url?: unknown } | undefined): boolean =>
  d.format === 'registry' && from?.format === 'registry' && typeof d.url === 'string' && d.url === from.url;

export const promotionSources: Rule = ({ distributions, unparsed }) => {
  const byName = new Map(distributions.map((d) => [d.doc.name, d]));
  const out: Diagnostic[] = [];
  for (const d of distributions) {
    const from = d.doc.promoteFrom;
    if (from === undefined) {
      if (d.doc.gate !== undefined && d.doc.gate !== 'none') out.push({ ...at(d, '/gate', `gate ${quote(d.doc.gate)} has no effect without promoteFrom`), severity: 'warning' });
      continue;
    }
    if (from === d.doc.name) out.push(at(d, '/promoteFrom', `promoteFrom: distribution ${quote(from)} cannot promote from itself`));
    else if (!byName.has(from) && !declaredElsewhere(unparsed, from)) out.push(at(d, '/promoteFrom', `promoteFrom: no distribution named ${quote(from)}${didYouMean(from, [...byName.keys()])}`));
    else if (sharedRegistry(d.doc, byName.get(from)?.doc)) {
      // Registry credentials (htpasswd) open a whole registry, not a repository: whoever pushes candidates could write here.
      const msg = `url ${quote(String((d.doc as { url?: unknown }).url))} is also the registry of ${quote(from)}, which it promotes from: credentials cover a whole registry, so agents that push there could write this distribution's images too; use a registry of its own (kiln up refuses this)`;
      out.push({ ...at(d, '/url', msg), severity: 'warning' });
    }
  }
  return out;
};

/**
 * Cycles of a name -> next-name relation (promoteFrom, from:), each as the chain from the first of
 * its members in `order`, reported once. A self-loop is left to the rules that name it.
 */
function cycles(order: string[], next: Map<string, string | undefined>): string[][] {
  const out: string[][] = [];
  const reported = new Set<string>();
  for (const start of order) {
    const chain = [start];
    let cur = next.get(start);
    while (cur !== undefined && next.has(cur) && !chain.includes(cur)) {
      chain.push(cur);
      cur = next.get(cur);
    }
    if (cur === start && chain.length > 1 && !reported.has(start)) {
      chain.forEach((n) => reported.add(n));
      out.push(chain);
    }
  }
  return out;
}

export const promotionAcyclic: Rule = ({ distributions }) => {
  const byName = new Map(distributions.map((d) => [d.doc.name, d]));
  const next = new Map(distributions.map((d) => [d.doc.name, d.doc.promoteFrom]));
  return cycles([...byName.keys()], next).map((chain) => at(byName.get(chain[0])!, '/promoteFrom', `promoteFrom forms a cycle: ${[...chain, chain[0]].join(' <- ')}`));
};

/** Releasing to a promoted distribution needs the package released to its source too. */
const promotedReachSource: PackageRule = (p, input) => {
  const byName = viewOf(input).distributionByName;
  return eachItem(p.doc.release, (r, i) => {
    const src = byName.get(r)?.doc.promoteFrom;
    return src !== undefined && src !== r && byName.has(src) && !(p.doc.release ?? []).includes(src)
      ? at(p, `/release/${i}`, `release: ${quote(r)} takes versions promoted from ${quote(src)}, but this package is not released to ${quote(src)}; add it to release`)
      : undefined;
  });
};
export const promotedPackagesReachSource: Rule = eachPackage(promotedReachSource);

/** keys/kiln.asc when keys/kiln.pub.asc exists (what `kiln keys generate` writes), else the nearest name. */
function suggestKey(missing: string, keyFiles: ReadonlySet<string>): string {
  const stem = (p: string) => posix.basename(p).replace(/(\.pub)?\.asc$/, '');
  const same = [...keyFiles].find((k) => stem(k) === stem(missing));
  if (same) return `; did you mean ${quote(same)}?`;
  const byStem = new Map([...keyFiles].map((k) => [stem(k), k]));
  const hint = didYouMean(stem(missing), [...byStem.keys()]);
  const near = /'(.*)'/.exec(hint)?.[1];
  return near !== undefined ? `; did you mean ${quote(byStem.get(near))}?` : '';
}

export const trustKeysExist: Rule = ({ config, keyFiles }) => {
  if (!config) return [];
  const out: Diagnostic[] = [];
  (config.doc.trust?.keys ?? []).forEach((k, i) => {
    if (!keyFiles.has(k)) out.push(at(config, `/trust/keys/${i}`, `trust.keys: ${k} does not exist in the repo${suggestKey(k, keyFiles)}`));
  });
  const pub = config.doc.signing?.publicKey;
  if (pub !== undefined && !keyFiles.has(pub)) out.push(at(config, '/signing/publicKey', `signing.publicKey: ${pub} does not exist in the repo${suggestKey(pub, keyFiles)}`));
  return out;
};

/** buildFrom (package, pool or defaults) must name a declared distribution. */
function checkBuildFrom<T>(f: Located<T>, pointer: string, name: string | undefined, input: RuleInput): Diagnostic[] {
  if (name === undefined) return NONE;
  const names = viewOf(input).distributionNames;
  return names.includes(name) || declaredElsewhere(input.unparsed, name)
    ? NONE
    : [at(f, pointer, `buildFrom: no distribution named ${quote(name)}${didYouMean(name, names)} (declare it in ${METADATA_LAYOUT.distributionsDir}/${name}.yaml)`)];
}
const configBuildFrom: Rule = (input) => {
  const { config } = input;
  if (!config) return [];
  return [
    ...checkBuildFrom(config, '/defaults/buildFrom', config.doc.defaults?.buildFrom, input),
    ...Object.entries(config.doc.pools ?? {}).flatMap(([pool, p]) => checkBuildFrom(config, `/pools/${pool}/buildFrom`, p.buildFrom, input)),
  ];
};
const packageBuildFrom: PackageRule = (p, input) => (p.doc.format === 'deb' || p.doc.format === 'oci' ? checkBuildFrom(p, '/buildFrom', p.doc.buildFrom, input) : NONE);
export const buildFromExists: Rule = (input) => [...configBuildFrom(input), ...eachPackage(packageBuildFrom)(input)];

/** An oci package's `from:` is an image by digest (HOST/REPO@sha256:…), by tag in a registry (HOST/REPO:TAG) or another Kiln oci package; its tag templates are usable. */
export const ociFromAndTags: Rule = ({ packages, unparsed, resolvedConfig }) => {
  const oci = new Map(packages.flatMap((p) => (p.doc.format === 'oci' ? [[p.doc.name, p] as const] : [])));
  const out: Diagnostic[] = [];
  for (const p of packages) {
    if (p.doc.format !== 'oci') continue;
    const from = p.doc.from;
    const base = ociFrom(from);
    if (from !== undefined && base && 'package' in base) {
      const b = oci.get(from);
      if (from === p.doc.name) out.push(at(p, '/from', `from: package ${quote(from)} cannot be built from itself`));
      else if (!b && !declaredElsewhere(unparsed, from)) {
        out.push(at(p, '/from', `from: ${quote(from)} is neither an image by digest (HOST/REPO@sha256:…), an image by tag in a registry (HOST[:PORT]/REPO:TAG) nor a Kiln oci package${didYouMean(from, [...oci.keys()])}`));
      } else if (b) {
        const missing = p.doc.architectures.filter((a) => !b.doc.architectures.includes(a));
        if (missing.length) out.push(at(p, '/from', `from: ${quote(from)} is not built for ${missing.join(', ')} (${where(b, '/architectures')}), which this image needs`));
      }
    }
    const pool = p.doc.pool ?? 'oci';
    if ((p.doc.install ?? []).length && (p.doc.buildFrom ?? resolvedConfig.pools[pool]?.buildFrom ?? resolvedConfig.defaults.buildFrom) === undefined) {
      out.push(at(p, '/install', 'install: needs a distribution to fetch the packages from: set buildFrom (on the package, its pool or defaults)'));
    }
    (p.doc.tags ?? []).forEach((t, i) => {
      const problem = tagTemplateProblem(t);
      if (problem) out.push(at(p, `/tags/${i}`, `tags: ${problem}`));
    });
  }
  return out;
};

/** Images built FROM each other in a cycle can never be built (a self-reference is reported by ociFromAndTags). */
export const ociFromAcyclic: Rule = ({ packages }) => {
  const byName = new Map(packages.flatMap((p) => (p.doc.format === 'oci' ? [[p.doc.name, p] as const] : [])));
  const next = new Map([...byName].map(([n, p]) => [n, p.doc.format === 'oci' ? p.doc.from : undefined]));
  return cycles([...byName.keys()], next).map((chain) => at(byName.get(chain[0])!, '/from', `from: forms a cycle: ${[...chain, chain[0]].join(' FROM ')}; none of these images can be built`));
};

/**
 * Every architecture of an oci package is a machine an image can be built for (oci/platform.ts):
 * `all` names none. Several are built one image each and released as one image index.
 */
const ociPlatformPerArchitecture: PackageRule = (p) =>
  p.doc.format !== 'oci'
    ? NONE
    : eachItem(p.doc.architectures, (arch, i) =>
        ociPlatform(arch) ? undefined : at(p, `/architectures/${i}`, `architectures: ${quote(arch)} is no machine an image can be built for; an oci image names real architectures (${ociArchitectures().join(', ')})`),
      );
export const ociArchitecturePlatforms: Rule = eachPackage(ociPlatformPerArchitecture);

/** Two registry distributions at one url + repository prefix would prune each other's tags. */
export const uniqueRegistryPrefixes: Rule = ({ distributions }) => {
  const seen = new Map<string, Located<DistributionDoc>>();
  const out: Diagnostic[] = [];
  for (const d of distributions) {
    if (d.doc.format !== 'registry') continue;
    const prefix = `${d.doc.url}/${d.doc.repository ?? ''}`;
    const first = seen.get(prefix);
    if (!first) seen.set(prefix, d);
    else if (first.doc.name !== d.doc.name) {
      out.push(at(d, d.doc.repository === undefined ? '/url' : '/repository', `registry ${d.doc.url}, repository prefix ${quote(d.doc.repository ?? '')} is already distribution ${quote(first.doc.name)}'s (${where(first, '/url')}); each would prune the other's tags: give each its own url or repository`));
    }
  }
  return out;
};

/** An image promoted through an image-test gate with no `test:` command passes it untested. */
const gatedImageTest: PackageRule = (p, { distributions }) => {
  if (p.doc.format !== 'oci' || p.doc.test !== undefined) return NONE;
  return (p.doc.release ?? []).flatMap((r, i) => {
    const d = [...distributions].reverse().find((x) => x.doc.name === r);
    if (d?.doc.format !== 'registry' || d.doc.promoteFrom === undefined || (d.doc.gate ?? 'image-test') !== 'image-test') return [];
    return [{ ...at(p, `/release/${i}`, `release: ${quote(r)} gates images with image-test, but this image has no test: command, so it is promoted untested`), severity: 'warning' as const }];
  });
};
export const imageTestHasTest: Rule = eachPackage(gatedImageTest);

/** Rules over the whole set (names across files, distributions, kiln.yaml): run every time. */
const SET_RULES: readonly Rule[] = [
  uniquePackageNames,
  uniqueDistributionNames,
  uniqueCodenames,
  distributionFileNames,
  defaultPoolExists,
  promotionSources,
  promotionAcyclic,
  trustKeysExist,
  configBuildFrom,
  ociFromAndTags,
  ociFromAcyclic,
  uniqueRegistryPrefixes,
];

/** Rules about one package file given the context: remembered per file (RuleMemo). */
const PACKAGE_RULES: readonly PackageRule[] = [
  packageFileName,
  formatVersion,
  releaseTargets,
  architecturesInDistributions,
  packagePoolExists,
  architecturesInPool,
  promotedReachSource,
  packageBuildFrom,
  ociPlatformPerArchitecture,
  gatedImageTest,
];

export const RULES: readonly Rule[] = [...SET_RULES, ...PACKAGE_RULES.map(eachPackage)];

/**
 * Package-rule results kept between passes. A result is reused for the same parsed document
 * (an unchanged file keeps its parse) while everything a package rule may look at besides the
 * package is the same: kiln.yaml's document, the distributions' documents and the unparsed files.
 */
export interface RuleMemo {
  context?: { config?: object; configBroken: boolean; distributions: object[]; unparsed: string };
  perPackage: WeakMap<object, Diagnostic[]>;
}

export const emptyRuleMemo = (): RuleMemo => ({ perPackage: new WeakMap() });

function contextOf(input: RuleContext): NonNullable<RuleMemo['context']> {
  return { config: input.config?.doc, configBroken: input.configBroken ?? false, distributions: input.distributions.map((d) => d.doc), unparsed: [...(input.unparsed ?? [])].sort().join('\n') };
}

function sameContext(a: RuleMemo['context'], b: NonNullable<RuleMemo['context']>): boolean {
  return (
    a !== undefined &&
    a.config === b.config &&
    a.configBroken === b.configBroken &&
    a.unparsed === b.unparsed &&
    a.distributions.length === b.distributions.length &&
    a.distributions.every((d, i) => d === b.distributions[i])
  );
}

/** What package rules look at besides the package: everything of RuleInput but the other packages. */
export type RuleContext = Omit<RuleInput, 'packages'>;

/** The package rules' diagnostics for `packages` (in order) under `context`; answers kept in `memo`. */
export function packageRuleDiagnostics(packages: Iterable<Located<PackageDoc>>, context: RuleContext, memo: RuleMemo): Diagnostic[] {
  const key = contextOf(context);
  if (!sameContext(memo.context, key)) {
    memo.context = key;
    memo.perPackage = new WeakMap();
  }
  const input: RuleInput = { ...context, packages: [] };
  const out: Diagnostic[] = [];
  for (const p of packages) {
    let found = memo.perPackage.get(p.doc);
    if (!found) memo.perPackage.set(p.doc, (found = packageDiagnostics(p, input)));
    if (found.length) out.push(...found);
  }
  return out;
}

/** Every package rule's diagnostics for one package; NONE (shared) when there are none, as is usual. */
function packageDiagnostics(p: Located<PackageDoc>, input: RuleInput): Diagnostic[] {
  let out = NONE;
  for (const rule of PACKAGE_RULES) {
    const found = rule(p, input);
    if (found.length) out = out === NONE ? [...found] : out.concat(found);
  }
  return out;
}

/** Every rule's diagnostics; with a memo, package rules run only for documents it has no answer for. */
export function runRules(input: RuleInput, memo: RuleMemo = emptyRuleMemo()): Diagnostic[] {
  return [...SET_RULES.flatMap((r) => r(input)), ...packageRuleDiagnostics(input.packages, input, memo)];
}
