// What a consumer needs to verify Kiln's image signatures with skopeo/podman/CRI-O:
// a containers-policy.json that requires a signature by Kiln's key (`signedBy`,
// GPGKeys, keyPath) for the repositories Kiln publishes, and a registries.d file
// pointing the registry's lookaside at where `kiln serve` serves the signatures. Pure.

export interface ConsumerPolicyOptions {
  /** host[:port]/prefix scopes Kiln signs (a registry, or a repository prefix in it). */
  scopes: string[];
  /** Where the consumer keeps Kiln's public key (armored or binary). */
  keyPath: string;
  /** Everything else: reject (the strict default) or accept anything. */
  otherwise?: 'reject' | 'insecureAcceptAnything';
}

export function consumerPolicy(o: ConsumerPolicyOptions): object {
  const requirement = [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: o.keyPath }];
  return {
    default: [{ type: o.otherwise ?? 'reject' }],
    transports: {
      docker: Object.fromEntries(o.scopes.map((s) => [s, requirement])),
      // Local copies (skopeo copy … dir:/oci:) are not Kiln's to judge.
      'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
    },
  };
}

/** registries.d/<name>.yaml: the lookaside URL (http(s):// or file://) of one registry. JSON is valid YAML. */
export function registriesDConfig(registry: string, lookasideUrl: string): string {
  return JSON.stringify({ docker: { [registry]: { lookaside: lookasideUrl } } }, null, 2) + '\n';
}
