import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyPath } from '../../reconciler/desired/layout.ts';

test('metadata layout - classifies paths by place, extension and git mode', () => {
  const table: Array<[string, string, string]> = [
    ['kiln.yaml', '100644', 'config'],
    ['packages/hello.yaml', '100644', 'package'],
    ['packages/hello.yaml', '100755', 'package'],
    ['distributions/stable.yaml', '100644', 'distribution'],
    ['keys/alice.asc', '100644', 'key'],
    ['packages/.gitkeep', '100644', 'ignored'],
    ['packages/README.md', '100644', 'ignored'],
    ['packages/sub/x.yaml', '100644', 'ignored'],
    ['packages/hello.yml', '100644', 'refused'],
    ['packages/hello.yaml', '120000', 'refused'],
    ['packages/vendored', '160000', 'refused'],
    ['keys/evil.asc', '120000', 'refused'],
    ['docs/x.yaml', '100644', 'ignored'],
    // Wrong entry types where the layout expects a file or a directory.
    ['kiln.yaml', '160000', 'refused'],
    ['kiln.yaml', '120000', 'refused'],
    ['kiln.yaml/x', '100644', 'refused'],
    ['packages', '100644', 'refused'],
    ['distributions', '100644', 'refused'],
    ['keys', '100644', 'refused'],
    ['packages/hello.yaml/x', '100644', 'refused'],
  ];
  for (const [path, mode, kind] of table) assert.equal(classifyPath(path, mode).kind, kind, `${path} ${mode}`);
  assert.match((classifyPath('packages/README.md', '100644') as { warning: string }).warning, /only .yaml files/);
  const error = (path: string, mode = '100644') => (classifyPath(path, mode) as { error: string }).error;
  assert.match(error('kiln.yaml/x'), /kiln.yaml must be a file, not a directory/);
  assert.match(error('packages'), /packages must be a directory, not a file/);
  assert.match(error('packages/hello.yaml/x'), /packages\/hello.yaml must be a file, not a directory/);
});
