// The HTTP service alone, in its own process, for scripts/bench-api.ts (so the
// load generator and the SSE clients do not count in its memory).
// Prints one JSON line { url } when listening; stops on SIGTERM.
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createRegistry } from '../observability/metrics-registry.ts';
import { startHttpServer } from '../reconciler/http/server.ts';
import { LiveView } from '../reconciler/pipeline/live-view.ts';
import { BUCKETS } from '../schema/nats.ts';

const [repoDir, natsUrl] = process.argv.slice(2);
const nc = await connect({ servers: natsUrl, name: 'kiln-http' });
const live = new LiveView(nc, await jetstreamManager(nc), await new Objm(nc).open(BUCKETS.artifacts));
const http = await startHttpServer({ repoDir, live, metrics: createRegistry(), log: pino({ level: 'warn' }) });
process.stdout.write(JSON.stringify({ url: http.url }) + '\n');
process.once('SIGTERM', () => void http.close().then(() => nc.close()).then(() => process.exit(0)));
