import { debFormat } from '../../reconciler/formats/deb/deb-format.ts';
import { packageFormatConformance } from '../conformance/package-format.ts';

packageFormatConformance('deb', {
  format: debFormat,
  ascending: ['1.0~rc1-1', '1.0-1', '1.0-1+b1', '1.0.1-1', '1.10-1', '1:0.1-1'],
  equal: ['1.0-1', '0:1.0-1', '01.0-1'],
  invalid: ['v1', '', '1.0 1'],
  artifacts: ['hello_1.0-1_amd64.deb', 'hello_1.0-1_arm64.deb', 'hello-doc_1.0-1_all.deb', 'hello_1.0-1_amd64.buildinfo', 'hello-udeb_1.0-1_amd64.udeb'],
  byArch: { amd64: ['hello_1.0-1_amd64.deb', 'hello-doc_1.0-1_all.deb'], arm64: ['hello_1.0-1_arm64.deb', 'hello-doc_1.0-1_all.deb'] },
  notReleasable: ['hello_1.0-1_amd64.buildinfo', 'hello-udeb_1.0-1_amd64.udeb', 'build.log'],
});
