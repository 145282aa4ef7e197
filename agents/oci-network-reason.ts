// Why an image build failed, when the reason is that a RUN step reached for the
// network (builds have none: RUN steps run with --network none). Pure: judged from
// the build output. The patterns are what resolvers and common downloaders print
// when there is no network at all (only loopback) — busybox wget, curl, apt, pip, git.
const NO_NETWORK = [
  /wget: bad address '[^']*'/,
  /Network is unreachable/i,
  /Temporary failure in name resolution/i,
  /Temporary failure resolving '[^']*'/i,
  /Could not resolve host:?\s*\S*/i,
  /Name or service not known/i,
  /getaddrinfo (?:EAI_AGAIN|ENOTFOUND)\s*\S*/,
  /No address associated with hostname/i,
];

/** The reason to report when `output` shows a RUN step trying the network; undefined otherwise. */
export function networkFailureReason(output: string): string | undefined {
  for (const p of NO_NETWORK) {
    const m = p.exec(output);
    if (m) return `a RUN step tried to use the network, which image builds do not have (RUN steps run with no network): ${m[0]}`;
  }
  return undefined;
}
