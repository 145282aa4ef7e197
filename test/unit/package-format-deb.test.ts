import { debFormat } from '../../reconciler/formats/deb/deb-format.ts';
import { packageFormatConformance } from '../conformance/package-format.ts';

packageFormatConformance('deb', {
  format: debFormat,
  ascending: ['1.0~rc1-1', '1.0-1', '1.0-1+b1', '1.0.1-1', '1.10-1', '1:0.1-1'],
  equal: ['1.0-1', '0:1.0-1', '01.0-1'],
  invalid: ['v1', '', '1.0 1'],
  // The source package (.dsc and the tarballs it lists) goes with every architecture; the publisher places it once.
  artifacts: ['hello_1.0-1_amd64.deb', 'hello_1.0-1_arm64.deb', 'hello-doc_1.0-1_all.deb', 'hello_1.0-1_amd64.buildinfo', 'hello_1.0-1_amd64.changes', 'hello-udeb_1.0-1_amd64.udeb', 'hello_1.0-1.dsc', 'hello_1.0.orig.tar.gz', 'hello_1.0-1.debian.tar.xz'],
  byArch: {
    amd64: ['hello_1.0-1_amd64.deb', 'hello-doc_1.0-1_all.deb', 'hello_1.0-1.dsc', 'hello_1.0.orig.tar.gz', 'hello_1.0-1.debian.tar.xz'],
    arm64: ['hello_1.0-1_arm64.deb', 'hello-doc_1.0-1_all.deb', 'hello_1.0-1.dsc', 'hello_1.0.orig.tar.gz', 'hello_1.0-1.debian.tar.xz'],
  },
  notReleasable: ['hello_1.0-1_amd64.buildinfo', 'hello_1.0-1_amd64.changes', 'hello-udeb_1.0-1_amd64.udeb', 'build.log'],
});
