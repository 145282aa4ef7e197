// A normalised apt distribution for tests and benchmarks: the common shape,
// with what a test cares about given as overrides.
import type { AptDistribution } from '../../reconciler/model.ts';

export function aptDistribution(name: string, over: Partial<AptDistribution> = {}): AptDistribution {
  return {
    name,
    file: `distributions/${name}.yaml`,
    format: 'apt',
    suite: name,
    codename: name,
    components: ['main'],
    architectures: ['amd64'],
    origin: 'Kiln',
    label: 'Kiln',
    keep: 3,
    gate: 'none',
    ...over,
  };
}
