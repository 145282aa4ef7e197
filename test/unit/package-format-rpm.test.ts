import { rpmFormat } from '../../reconciler/formats/rpm/rpm-format.ts';
import { packageFormatConformance } from '../conformance/package-format.ts';

// rpm's [E:]V-R order (rpmvercmp: ~ sorts before anything, ^ after the base version, leading
// zeros ignored); .noarch.rpm goes with every architecture, .src.rpm is kept but not released.
packageFormatConformance('rpm', {
  format: rpmFormat,
  ascending: ['1.0~rc1-1', '1.0-1', '1.0^post1-1', '1.0.1-1', '1.10-1', '1:0.1-1'],
  equal: ['1.0-1', '0:1.0-1', '01.0-1'],
  invalid: ['v1 1', '', '1.0'],
  artifacts: ['hello-1.0-1.x86_64.rpm', 'hello-1.0-1.aarch64.rpm', 'hello-doc-1.0-1.noarch.rpm', 'hello-1.0-1.src.rpm'],
  byArch: {
    amd64: ['hello-1.0-1.x86_64.rpm', 'hello-doc-1.0-1.noarch.rpm'],
    arm64: ['hello-1.0-1.aarch64.rpm', 'hello-doc-1.0-1.noarch.rpm'],
  },
  notReleasable: ['hello-1.0-1.src.rpm', 'build.log'],
});
