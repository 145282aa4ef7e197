// Record the converged state of a metadata repo on kiln/status: every build
// succeeded and every package published to each distribution it names, in one
// commit signed by `signer`. For tests and benchmarks that need "nothing left
// to do" as their starting point.
import type { Logger } from 'pino';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import type { Signer } from '../../reconciler/signing/signer.ts';
import { buildRecordFile, releaseRecordFile } from '../../reconciler/status/records.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';

export async function recordConverged(dir: string, signer: Signer, log: Logger, rev = 'HEAD'): Promise<string | null> {
  const cache = {};
  const { state } = await readDesired({ dir, rev, cache, log });
  const records: BuildRecord[] = [...state.packages.values()].flatMap((p) =>
    p.architectures.map((arch) => {
      const { key, inputs } = keyedInputs(p, arch);
      return { key, inputs, pool: p.pool, desiredCommit: state.commit, state: 'succeeded', attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', outcome: 'succeeded' }], artifacts: [] } satisfies BuildRecord;
    }),
  );
  const releases: ReleaseRecord[] = [...state.distributions.keys()].map((dist) => ({
    distribution: dist,
    desiredCommit: state.commit,
    packages: [...state.packages.values()]
      .filter((p) => p.release.includes(dist))
      .map((p) => ({ name: p.name, version: p.version, builds: Object.fromEntries(records.filter((r) => r.inputs.package === p.name).map((r) => [r.inputs.arch, r.key])) })),
  }));
  const { commit } = await recordPass({
    dir,
    cache,
    signer,
    log,
    build: () => ({ files: new Map([...records.map(buildRecordFile), ...releases.map(releaseRecordFile)]), summary: 'test: converge', trailers: { 'Kiln-Desired': state.commit } }),
  });
  return commit;
}
