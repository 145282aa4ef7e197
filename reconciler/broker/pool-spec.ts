// Pure: `--pools deb:amd64,arm64` values as pool -> architectures.
import { identityProblem } from '../../schema/nats.ts';

export type PoolArchitectures = Record<string, string[]>;

/** Parse every `POOL:ARCH[,ARCH…]`; the error names the value and what is wrong with it. */
export function parsePoolSpecs(values: string[]): { pools: PoolArchitectures; problems: string[] } {
  const pools: PoolArchitectures = {};
  const problems: string[] = [];
  for (const v of values) {
    const m = /^([^:]+):(.+)$/.exec(v);
    if (!m) {
      problems.push(`--pools '${v}': expected POOL:ARCH[,ARCH…], e.g. deb:amd64,arm64`);
      continue;
    }
    const [, pool, archList] = m;
    const archs = archList.split(',');
    const problem = archs.map((a) => identityProblem(pool, a)).find(Boolean);
    if (problem) {
      problems.push(`--pools '${v}': ${problem}`);
      continue;
    }
    pools[pool] = [...new Set([...(pools[pool] ?? []), ...archs])].sort();
  }
  return { pools, problems };
}
