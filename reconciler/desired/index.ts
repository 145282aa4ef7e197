// Reading and checking the desired state (the metadata repo).
export { readDesired, evaluateDesired, assemble, type DesiredSnapshot, type ReadDesiredOptions, type DesiredEvaluation } from './read-desired.ts';
export { validateDesired, type ValidationReport } from './validate-desired.ts';
export { defaultSourceResolver, type SourceResolver } from './source-resolver.ts';
export { parseDebianVersion, debianVersionProblem, type DebianVersion } from '../formats/deb/debian-version.ts';
export { BUILTIN_DEFAULTS } from './normalise.ts';
