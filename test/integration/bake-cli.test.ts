import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEPOT_BIN, depot, ROOT, tempDir } from './harness.js';

// `depot bake --print` needs no engine and no builder: only the built binary.
const skip = existsSync(DEPOT_BIN) ? undefined : 'not built: run npm run build';
const HCL = join(ROOT, 'test', 'fixtures', 'bake', 'hcl');
// The fixture reads TAG, REPO and CI; pin them to their defaults whatever the runner's environment.
const ENV = { TAG: 'dev', REPO: 'acme/app', CI: 'false' };

describe('depot bake (the binary)', { skip }, () => {
  test('--print with -f files writes the resolved definition exactly as buildx prints it', async () => {
    const r = await depot(
      ['bake', '--print', '-f', join(HCL, 'docker-bake.hcl'), '-f', join(HCL, 'docker-bake.override.hcl')],
      ENV,
    );
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, readFileSync(join(HCL, 'expected-default.json'), 'utf8'));
  });

  test('--print TARGET with --set narrows to that target and applies the override', async () => {
    const r = await depot(
      ['bake', '--print', '-f', join(HCL, 'docker-bake.hcl'), 'app', '--set', 'app.tags=acme/app:pr-1'],
      ENV,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out.target), ['app']);
    assert.deepEqual(out.target.app.tags, ['acme/app:pr-1']);
    assert.deepEqual(out.group, { default: { targets: ['app'] } });
  });

  test('a bad bake file: exit 1, one line naming file, line and problem, nothing on stdout', async () => {
    const d = tempDir('bake-bad');
    writeFileSync(join(d, 'docker-bake.hcl'), 'target "app" {\n  tags = [regex_replace("a", "b", "c")]\n}\n');
    const r = await depot(['bake', '--print', '-f', join(d, 'docker-bake.hcl'), 'app']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? '',
      /^depot: .*docker-bake\.hcl:2: function "regex_replace" is not supported by depot bake \(supported: .*lower.*\)$/,
    );
  });

  test('a target whose flags cannot be built stops the bake before any build starts (exit 1, one line)', async () => {
    const dir = tempDir('bake-cli-bad');
    writeFileSync(
      join(dir, 'docker-bake.hcl'),
      'target "default" {\n  ssh = ["default=/a.sock,/b.sock"]\n}\n',
    );
    const r = await depot(['bake', '-f', join(dir, 'docker-bake.hcl')], ENV);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^depot: target default: ssh default names 2 agent sockets; depot forwards one per id\n$/,
    );
  });
});
