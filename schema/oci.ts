// Wire and file contracts for OCI images: what an agent reports about an image it
// pushed to the candidate registry, and what the reconciler reads back to verify it.
import type { FromSchema } from 'json-schema-to-ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';
export const ociDigest = { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } as const;

export const ociLayerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['digest', 'size', 'mediaType'],
  properties: { digest: ociDigest, size: { type: 'integer', minimum: 0 }, mediaType: { type: 'string' } },
} as const;

/** An image as the registry serves it: the manifest's own digest, its config and layers (embedded in BuildResult.image). */
export const ociImageBody = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'manifestDigest', 'mediaType', 'configDigest', 'layers', 'size'],
  properties: {
    /** host[:port]/path of the repository the image was pushed to. */
    repository: { type: 'string' },
    manifestDigest: ociDigest,
    mediaType: { type: 'string' },
    configDigest: ociDigest,
    layers: { type: 'array', items: ociLayerSchema },
    /** Bytes of the manifest, the config and every layer, as stored (compressed). */
    size: { type: 'integer', minimum: 0 },
    /** Bytes of the manifest alone: recorded by the reconciler at collect (image.json), so an index needs no registry read. */
    manifestSize: { type: 'integer', minimum: 0 },
    /** The platform the image config says, recorded with manifestSize (checked against the build's architecture then). */
    platform: {
      type: 'object',
      additionalProperties: false,
      required: ['os', 'architecture'],
      properties: { os: { type: 'string' }, architecture: { type: 'string' }, variant: { type: 'string' } },
    },
  },
} as const;

export const ociImageSchema = { $schema: DIALECT, $id: 'https://kiln.dev/schema/oci-image.json', ...ociImageBody } as const;

export type OciLayer = FromSchema<typeof ociLayerSchema>;
export type OciImage = FromSchema<typeof ociImageSchema>;

/**
 * A version built for several architectures, released as one image index: what the reconciler
 * assembled from the verified per-architecture images and put into the candidate registry
 * (recorded in the release record's `indexes`; the version's tags point at `digest`).
 */
export const imageIndexRecordSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['package', 'version', 'repository', 'digest', 'mediaType', 'manifests'],
  properties: {
    package: { type: 'string' },
    version: { type: 'string' },
    /** host[:port]/path of the candidate repository holding the index and its images. */
    repository: { type: 'string' },
    digest: ociDigest,
    mediaType: { type: 'string' },
    /** Kiln architecture → the manifest digest of that architecture's build. */
    manifests: { type: 'object', additionalProperties: ociDigest },
  },
} as const;

export type ImageIndexRecord = FromSchema<typeof imageIndexRecordSchema>;

/**
 * ROOT/<distribution>/tags.json: what a registry distribution publishes (every tag and the digest
 * it must point at), written after each release and signed (tags.json.asc). Drift is judged
 * against it; its sha256 is the release record's releaseSha256.
 */
export const publishedTagsSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/published-tags.json',
  type: 'object',
  additionalProperties: false,
  required: ['registry', 'tags'],
  properties: {
    /** host[:port] of the registry as consumers name it (signatures name it). */
    registry: { type: 'string' },
    tags: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['repository', 'tag', 'digest'],
        properties: {
          repository: { type: 'string' },
          tag: { type: 'string' },
          digest: ociDigest,
          package: { type: 'string' },
          version: { type: 'string' },
          /** When `digest` is an image index: its images' digests, each signed for the tag as well. */
          instances: { type: 'array', items: ociDigest },
        },
      },
    },
    /**
     * Tags Kiln released and the desired state dropped that still stand (unsigned), because another
     * tag holds their manifest: still Kiln's, so each release reports them again and prunes them
     * once nothing else points at the manifest.
     */
    stale: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['repository', 'tag', 'digest'],
        // An index's images (as for a tag): pruning the index later deletes them too.
        properties: { repository: { type: 'string' }, tag: { type: 'string' }, digest: ociDigest, instances: { type: 'array', items: ociDigest } },
      },
    },
  },
} as const;

export type PublishedTags = FromSchema<typeof publishedTagsSchema>;
