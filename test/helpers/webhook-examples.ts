// Real webhook payloads (@octokit/webhooks-examples), as data a test adjusts.
import { createRequire } from 'node:module';

type Examples = Array<{ name: string; examples: Array<Record<string, any>> }>;

/** A copy of the first example of `event` that `pick` accepts. */
export function webhookExample(event: 'push' | 'pull_request', pick: (e: Record<string, any>) => boolean): Record<string, any> {
  const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Examples;
  return structuredClone(examples.find((g) => g.name === event)!.examples.find(pick)!);
}
