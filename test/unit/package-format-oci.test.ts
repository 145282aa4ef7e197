import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ociFormat } from '../../reconciler/formats/oci/oci-format.ts';
import { packageFormatConformance } from '../conformance/package-format.ts';

// An image's versions order like Debian's (its tags carry them); its one release artifact is
// image.json (the image as the candidate registry served it), one per architecture's build.
packageFormatConformance('oci', {
  format: ociFormat,
  ascending: ['1.0~rc1-1', '1.0-1', '1.0-1+b1', '1.0.1-1', '1.10-1', '1:0.1-1'],
  equal: ['1.0-1', '0:1.0-1', '01.0-1'],
  invalid: ['v1', '', '1.0 1'],
  artifacts: ['image.json', 'build.log'],
  byArch: { amd64: ['image.json'], arm64: ['image.json'] },
  notReleasable: ['build.log', 'image.tar', 'Dockerfile'],
});

test('oci format - each architecture of a multi-arch version gets the image.json its own build recorded', () => {
  const artifacts = [
    { name: 'image.json', sha256: 'a'.repeat(64) },
    { name: 'image.json', sha256: 'b'.repeat(64) },
    { name: 'build.log', sha256: 'c'.repeat(64) },
  ];
  assert.deepEqual(ociFormat.artifactsForArch(artifacts, 'arm64', new Set(['b'.repeat(64), 'c'.repeat(64)])), [artifacts[1]]);
  assert.deepEqual(ociFormat.artifactsForArch(artifacts, 'amd64', new Set(['a'.repeat(64)])), [artifacts[0]]);
});
