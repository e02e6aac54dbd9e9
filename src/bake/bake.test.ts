import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { BakeError, bakePrintText, loadBakeTargets } from './index.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'bake');
/** An environment without the variables the fixtures read, so the host's cannot leak in. */
const ENV = { PATH: process.env.PATH ?? '' };

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'depot-bake-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

function expected(fixture: string, name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, fixture, name), 'utf8'));
}

function bakeErr(f: () => unknown): BakeError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof BakeError, String(e));
    return e;
  }
  assert.fail('expected a BakeError');
}

// The expected files were written from buildx's code (bake/bake.go ReadTargets, ResolveTarget,
// Target.Merge and MarshalJSON; commands/bake.go print; util/buildflags JSON shapes) and its
// docs, not from this implementation's output. See the notes in each test for what could not be
// checked against a real buildx here (no buildx binary on this machine).
describe('depot bake --print (golden)', () => {
  test('HCL: defaults, the override file, inherits, functions, Go escaping of < > &', () => {
    const out = bakePrintText({ cwd: join(FIXTURES, 'hcl'), env: ENV });
    // Byte for byte: Go's MarshalIndent layout, and its escaping of & < >.
    assert.equal(out, readFileSync(join(FIXTURES, 'hcl', 'expected-default.json'), 'utf8'));
  });

  test('HCL: a group name selects its targets; default lists what was asked for (sorted)', () => {
    const out = JSON.parse(bakePrintText({ cwd: join(FIXTURES, 'hcl'), env: ENV, targets: ['release'] }));
    const want = expected('hcl', 'expected-release.json') as {
      group: unknown;
      target: Record<string, unknown>;
    };
    const def = expected('hcl', 'expected-default.json') as { target: Record<string, unknown> };
    assert.deepEqual(out.group, want.group);
    assert.deepEqual(out.target, { ...want.target, app: def.target.app, worker: def.target.worker });
  });

  test('HCL: environment variables override variable defaults, typed as the default', () => {
    const out = JSON.parse(
      bakePrintText({ cwd: join(FIXTURES, 'hcl'), env: { ...ENV, TAG: 'V1', CI: 'true' }, targets: ['app'] }),
    );
    assert.deepEqual(out.target.app.tags, ['acme/app:V1', 'acme/app:v1', 'acme/app:stable']);
    assert.equal(out.target.app.args.BUILD_TAG, 'v-V1');
    assert.equal(out.target.app['no-cache'], true);
    assert.throws(
      () => bakePrintText({ cwd: join(FIXTURES, 'hcl'), env: { ...ENV, CI: 'maybe' } }),
      /failed to parse CI as bool/,
    );
  });

  test('JSON: strings are templates, $${ stays literal (printed escaped), numbers become strings', () => {
    const out = bakePrintText({ cwd: join(FIXTURES, 'json'), env: ENV });
    assert.equal(out, readFileSync(join(FIXTURES, 'json', 'expected-default.json'), 'utf8'));
  });

  // Not checked against compose-go itself: .env handling and interpolation follow the Compose
  // spec; list-form args without a value come from the service's environment as buildx resolves them.
  test('Compose (+ docker-bake.hcl read after it): services with build, image as tag, .env', () => {
    const out = bakePrintText({ cwd: join(FIXTURES, 'compose'), env: ENV });
    assert.equal(out, readFileSync(join(FIXTURES, 'compose', 'expected-default.json'), 'utf8'));
  });
});

describe('bake definitions', () => {
  test('files: default lookup reads every default file present; -f replaces the lookup; later -f wins', () => {
    const d = dir({
      'docker-bake.hcl': 'target "a" {\n  tags = ["one"]\n  args = { X = "1", Y = "1" }\n}\n',
      'b.hcl': 'target "a" {\n  args = { Y = "2" }\n}\ntarget "b" {}\n',
      'c.json': '{"target": {"a": {"tags": ["three"]}}}',
    });
    let r = loadBakeTargets({ cwd: d, env: ENV, targets: ['a'] });
    assert.deepEqual(r.files, ['docker-bake.hcl']);
    assert.deepEqual(r.targets[0]?.tags, ['one']);
    r = loadBakeTargets({ cwd: d, env: ENV, files: ['docker-bake.hcl', 'b.hcl', 'c.json'], targets: ['a'] });
    assert.deepEqual(r.targets[0]?.tags, ['three'], 'tags replace');
    assert.deepEqual(r.targets[0]?.args, { X: '1', Y: '2' }, 'args merge key by key');
    assert.equal(
      bakeErr(() => loadBakeTargets({ cwd: d, env: ENV, files: ['nope.hcl'] })).message,
      'bake file nope.hcl not found',
    );
    assert.equal(
      bakeErr(() => loadBakeTargets({ cwd: dir({}), env: ENV })).message,
      "couldn't find a bake definition",
    );
  });

  test('inherits: in order, later parents win, the target itself wins last; cycles do not hang', () => {
    const d = dir({
      'docker-bake.hcl': `
target "a" {
  args = { X = "a", A = "a" }
  tags = ["a"]
}
target "b" {
  args = { X = "b" }
  platforms = ["linux/arm64"]
}
target "c" {
  inherits = ["a", "b"]
  args = { C = "c" }
}
target "loop1" {
  inherits = ["loop2"]
}
target "loop2" {
  inherits = ["loop1"]
  tags = ["l"]
}
`,
    });
    const r = loadBakeTargets({ cwd: d, env: ENV, targets: ['c', 'loop1'] });
    const c = r.targets.find((t) => t.name === 'c');
    assert.deepEqual(c?.args, { X: 'b', A: 'a', C: 'c' });
    assert.deepEqual(c?.tags, ['a']);
    assert.deepEqual(c?.platforms, ['linux/arm64']);
    assert.deepEqual(r.targets.find((t) => t.name === 'loop1')?.tags, ['l']);
    assert.match(
      bakeErr(() =>
        loadBakeTargets({
          cwd: dir({ 'docker-bake.hcl': 'target "x" {\n  inherits = ["ghost"]\n}\n' }),
          env: ENV,
          targets: ['x'],
        }),
      ).message,
      /target "x" inherits "ghost", which is not defined/,
    );
  });

  test('groups: nested groups expand, a missing default is an error naming the targets, globs match', () => {
    const d = dir({
      'docker-bake.hcl':
        'group "all" {\n  targets = ["g1", "t3"]\n}\ngroup "g1" {\n  targets = ["t1", "t2"]\n}\ntarget "t1" {}\ntarget "t2" {}\ntarget "t3" {}\n',
    });
    const r = loadBakeTargets({ cwd: d, env: ENV, targets: ['all'] });
    assert.deepEqual(
      r.targets.map((t) => t.name),
      ['t1', 't2', 't3'],
    );
    assert.deepEqual(r.groups, [
      { name: 'all', targets: ['g1', 't3'] },
      { name: 'default', targets: ['all'] },
      { name: 'g1', targets: ['t1', 't2'] },
    ]);
    assert.deepEqual(
      loadBakeTargets({ cwd: d, env: ENV, targets: ['t[12]'] }).targets.map((t) => t.name),
      ['t1', 't2'],
    );
    const e = bakeErr(() => loadBakeTargets({ cwd: d, env: ENV }));
    assert.equal(e.message, 'failed to find target default');
    assert.match(e.hint ?? '', /t1, t2, t3/);
  });

  test('--set: one target, every target (*), args, platform lists, += appends, push/load', () => {
    const d = dir({
      'docker-bake.hcl':
        'target "a" {\n  tags = ["a:1"]\n  args = { X = "1" }\n}\ntarget "b" {\n  platforms = ["linux/amd64"]\n}\n',
    });
    const r = loadBakeTargets({
      cwd: d,
      env: { ...ENV, FROM_ENV: 'e' },
      targets: ['a', 'b'],
      set: [
        'a.tags=a:2',
        'a.tags+=a:3',
        'a.args.Y=2',
        'a.args.FROM_ENV',
        'a.args.NOT_IN_ENV',
        '*.platform=linux/arm64',
        '*.platform=linux/amd64',
        'b.no-cache=true',
        'b.context=./sub/../b',
        'a.push=true',
      ],
    });
    const [a, b] = r.targets;
    assert.deepEqual(
      a?.tags,
      ['a:1', 'a:2', 'a:3'],
      '+= appends (the last operator of a key decides, as in buildx)',
    );
    assert.deepEqual(a?.args, { X: '1', Y: '2', FROM_ENV: 'e' });
    assert.deepEqual(a?.platforms, ['linux/arm64', 'linux/amd64']);
    assert.deepEqual(a?.output, [{ type: 'image', attrs: { push: 'true' } }]);
    assert.equal(b?.noCache, true);
    assert.equal(b?.context, 'b');
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: d, env: ENV, targets: ['a'], set: ['nope.tags=x'] })).message,
      /could not find any target matching "nope"/,
    );
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: d, env: ENV, targets: ['a'], set: ['a.foo=x'] })).message,
      /unknown --set key "foo"/,
    );
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: d, env: ENV, targets: ['a'], set: ['a.pull=maybe'] })).message,
      /invalid value maybe for boolean key pull/,
    );
  });

  test('variables: env overrides default; top-level attributes, BAKE_CMD_CONTEXT, target.NAME.ATTR, validation', () => {
    const d = dir({
      'docker-bake.hcl': `
PREFIX = "acme"
variable "TAG" {
  default = "latest"
}
variable "COUNT" {
  type = number
  default = 2
}
variable "NONE" {}
variable "V" {
  default = "ok"
  validation {
    condition = V != "bad"
    error_message = "V must not be bad."
  }
}
target "base" {
  tags = ["\${PREFIX}/base:\${TAG}"]
}
target "app" {
  tags = concat(target.base.tags, ["\${PREFIX}/app:\${COUNT + 1}"])
  context = BAKE_CMD_CONTEXT
  args = { NONE = "[\${NONE}]" }
}
`,
    });
    const r = loadBakeTargets({ cwd: d, env: { ...ENV, TAG: 'v2', PREFIX: 'ignored' }, targets: ['app'] });
    assert.deepEqual(r.targets[0]?.tags, ['acme/base:v2', 'acme/app:3']);
    assert.equal(r.targets[0]?.context, '.', 'cwd:// is the working directory');
    assert.deepEqual(r.targets[0]?.args, { NONE: '[]' });
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: d, env: { ...ENV, COUNT: 'x' } })).message,
      /failed to parse COUNT as number/,
    );
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: d, env: { ...ENV, V: 'bad' }, targets: ['app'] })).message,
      /^docker-bake.hcl:\d+: variable "V": V must not be bad\.$/,
    );
  });

  test('compose: args as a map, build as a string, x-bake; unsupported keys are refused', () => {
    const d = dir({
      'compose.yml':
        'services:\n  s:\n    build:\n      context: .\n      args:\n        A: "1"\n      x-bake:\n        platforms: linux/amd64 linux/arm64\n        tags: [s:x]\n',
    });
    const r = loadBakeTargets({ cwd: d, env: ENV });
    assert.deepEqual(r.targets[0]?.args, { A: '1' });
    assert.deepEqual(r.targets[0]?.platforms, ['linux/amd64', 'linux/arm64']);
    assert.deepEqual(r.targets[0]?.tags, ['s:x']);
    const bad = dir({
      'compose.yaml': 'services:\n  s:\n    build:\n      context: .\n      shm_size: 2gb\n',
    });
    assert.match(
      bakeErr(() => loadBakeTargets({ cwd: bad, env: ENV })).message,
      /compose.yaml: service "s" build: shm_size is not supported by depot bake/,
    );
  });

  test('refused, never skipped: matrix, function blocks, remote files and contexts, unknown and unsupported attributes', () => {
    const cases: [string, RegExp][] = [
      [
        'target "a" {\n  matrix = { v = ["1", "2"] }\n}\n',
        /^docker-bake.hcl:2: target "a": matrix is not supported by depot bake$/,
      ],
      [
        'function "f" {\n  params = []\n  result = "x"\n}\n',
        /^docker-bake.hcl:1: function blocks are not supported by depot bake$/,
      ],
      [
        'target "a" {\n  context = "https://github.com/acme/app.git"\n}\n',
        /remote contexts \(git or https URLs\) are not supported/,
      ],
      ['target "a" {\n  context = "git@github.com:acme/app.git"\n}\n', /remote contexts/],
      [
        'target "a" {\n  shm-size = "2g"\n}\n',
        /^docker-bake.hcl:2: target "a": attribute "shm-size" is not supported by depot bake$/,
      ],
      ['target "a" {\n  contexts = { x = "y" }\n}\n', /attribute "contexts" is not supported/],
      ['target "a" {\n  colour = "red"\n}\n', /^docker-bake.hcl:2: target "a": unknown attribute "colour"$/],
      [
        'target "a" {\n  tags = [regex_replace("a", "b", "c")]\n}\n',
        /^docker-bake.hcl:2: function "regex_replace" is not supported by depot bake$/,
      ],
      ['target "a" {\n  tags = ["x"\n}\n', /^docker-bake.hcl:3: expected "," or "\]" in a list, found "}"$/],
    ];
    for (const [text, re] of cases) {
      const d = dir({ 'docker-bake.hcl': text });
      assert.match(bakeErr(() => loadBakeTargets({ cwd: d, env: ENV, targets: ['a'] })).message, re, text);
    }
    assert.match(
      bakeErr(() =>
        loadBakeTargets({ cwd: dir({}), env: ENV, files: ['https://example.com/docker-bake.hcl'] }),
      ).message,
      /remote bake definitions are not supported by depot bake/,
    );
  });

  test('network = "host" prints the network.host entitlement after it, as buildx normalize() adds it', () => {
    const d = dir({ 'docker-bake.hcl': 'target "default" {\n  network = "host"\n}\n' });
    const out = bakePrintText({ cwd: d, env: ENV });
    assert.match(out, /"network": "host",\n {6}"entitlements": \[\n {8}"network.host"\n {6}\]\n/);
  });

  test('SOURCE_DATE_EPOCH from the environment becomes an arg of every target (as buildx passes it)', () => {
    const d = dir({ 'docker-bake.hcl': 'target "default" {}\n' });
    assert.deepEqual(loadBakeTargets({ cwd: d, env: { ...ENV, SOURCE_DATE_EPOCH: '0' } }).targets[0]?.args, {
      SOURCE_DATE_EPOCH: '0',
    });
  });
});
