import { ociFormat } from '../../reconciler/formats/oci/oci-format.ts';
import { packageFormatConformance } from '../conformance/package-format.ts';

// An image's versions order like Debian's (its tags carry them); its one release artifact is
// image.json (the image as the candidate registry served it), the same for every architecture.
packageFormatConformance('oci', {
  format: ociFormat,
  ascending: ['1.0~rc1-1', '1.0-1', '1.0-1+b1', '1.0.1-1', '1.10-1', '1:0.1-1'],
  equal: ['1.0-1', '0:1.0-1', '01.0-1'],
  invalid: ['v1', '', '1.0 1'],
  artifacts: ['image.json', 'build.log'],
  byArch: { amd64: ['image.json'], arm64: ['image.json'] },
  notReleasable: ['build.log', 'image.tar', 'Dockerfile'],
});
