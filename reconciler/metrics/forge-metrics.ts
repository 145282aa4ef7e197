// The two metrics forge code moves (status pushes to a remote, webhook
// receipts). Forge modules take this handle as a dependency (from
// ReconcilerMetrics.forge) instead of touching prom-client themselves;
// NO_FORGE_METRICS stands in when metrics are off (tests, CLI one-shots).

export type WebhookOutcome = 'accepted' | 'ignored' | 'bad-signature' | 'bad-request' | 'error';

export interface ForgeMetrics {
  /** A push of kiln/status to the forge remote failed (it will be retried). */
  statusPushFailed(remote?: string): void;
  /** A webhook delivery was received and handled with this outcome. */
  webhookDelivery(outcome: WebhookOutcome): void;
}

export const NO_FORGE_METRICS: ForgeMetrics = {
  statusPushFailed: () => undefined,
  webhookDelivery: () => undefined,
};
