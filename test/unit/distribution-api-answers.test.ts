// The in-process distribution API client's reading of answers a registry may give
// but Debian's docker-registry 2.8 never does (so a loopback HTTP server gives them
// here): 408/429 mean "later" (transient), a PUT answered without
// Docker-Content-Digest is confirmed by asking, a manifest served without a
// Content-Type keeps its own mediaType.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { DistributionApi, ownMediaType } from '../../oci/distribution-api.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { RegistryError } from '../../schema/errors.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 }, layers: [] }));
const DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

const servers: Array<{ close(): void }> = [];
after(() => servers.forEach((s) => s.close()));

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('distribution api - 408 and 429 are transient (retried), not terminal', async () => {
  for (const status of [408, 429]) {
    const host = await serve((_req, res) => res.writeHead(status).end('slow down'));
    const api = new DistributionApi({ tls: () => false, credential: async () => undefined });
    await assert.rejects(api.listTags(host, 'kiln/app'), (e: unknown) => e instanceof RegistryError && e.kind === 'transient');
    await assert.rejects(api.getManifest(host, 'kiln/app', 'latest'), (e: unknown) => e instanceof RegistryError && e.kind === 'transient');
  }
});

test('distribution api - a tag put answered without Docker-Content-Digest is confirmed by what the tag names; no Content-Type keeps the manifest mediaType', async () => {
  const tags = new Map<string, Buffer>();
  const seen: string[] = [];
  const host = await serve((req, res) => {
    const ref = req.url!.split('/manifests/')[1];
    seen.push(`${req.method} ${ref} ${req.headers['content-type'] ?? ''}`);
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        tags.set(ref, Buffer.concat(chunks));
        res.writeHead(201).end(); // no Docker-Content-Digest
      });
      return;
    }
    const body = ref === DIGEST ? MANIFEST : tags.get(ref);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }); // no Content-Type, no Docker-Content-Digest
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const client = new RegistryClient({ tlsVerify: false });
  await client.setTag({ registry: host, repository: 'kiln/app', digest: DIGEST }, '1.0');
  assert.ok(seen.includes(`PUT 1.0 ${OCI}`), seen.join('\n'));
  assert.ok(seen.some((s) => s.startsWith('HEAD 1.0')) && seen.some((s) => s.startsWith('GET 1.0')), `the tag was read back: ${seen.join(', ')}`);
  // A registry that stored something else under the tag is caught.
  tags.clear();
  const other = Buffer.from(JSON.stringify({ mediaType: OCI, config: { digest: 'x', size: 0, mediaType: 'x' }, layers: [] }));
  const lying = await serve((req, res) => {
    if (req.method === 'PUT') return void req.resume().on('end', () => res.writeHead(201).end());
    const body = req.url!.endsWith(DIGEST) ? MANIFEST : other;
    res.writeHead(200).end(req.method === 'HEAD' ? undefined : body);
  });
  await assert.rejects(client.setTag({ registry: lying, repository: 'kiln/app', digest: DIGEST }, '1.0'), (e: Error) => e.name === 'DigestMismatchError' && /stored sha256:/.test(e.message));
  assert.equal(ownMediaType(Buffer.from('not json')), 'application/vnd.docker.distribution.manifest.v2+json');
});
