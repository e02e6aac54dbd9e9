import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyOutputFlag, checkOutputFlags, parseOutputFlag } from './output-flag.js';

test('-o forms as docker reads them', () => {
  assert.equal(parseOutputFlag([]), undefined);
  assert.deepEqual(parseOutputFlag(['out']), { kind: 'files', type: 'local', dest: 'out' });
  assert.deepEqual(parseOutputFlag(['-']), { kind: 'files', type: 'tar', dest: '-' });
  assert.deepEqual(parseOutputFlag(['type=local,dest=d']), { kind: 'files', type: 'local', dest: 'd' });
  assert.deepEqual(parseOutputFlag(['type=tar,dest=-']), { kind: 'files', type: 'tar', dest: '-' });
  assert.deepEqual(parseOutputFlag(['type=docker']), { kind: 'image', load: true, push: false, names: [] });
  assert.deepEqual(parseOutputFlag(['type=registry,name=r:5000/a:1']), {
    kind: 'image',
    load: false,
    push: true,
    names: ['r:5000/a:1'],
  });
  assert.deepEqual(parseOutputFlag(['type=image,push=true']), {
    kind: 'image',
    load: false,
    push: true,
    names: [],
  });
});

test('bad -o values are one clear error each', () => {
  for (const [v, want] of [
    [['type=nope'], /unknown type/],
    [['type=local'], /needs dest/],
    [['type=local,dest='], /needs dest/],
    [['type=local,dest=-'], /cannot write to stdout/],
    [['type=tar,dest=x,compression=gzip'], /takes no compression/],
    [['dest=x'], /no type/],
    [['type=local,dest=a,type=tar'], /given twice/],
    [['type=docker,push=true'], /does not push/],
    [['a', 'b'], /only one/],
    [[''], /empty/],
    [['type=local,x'], /not key=value/],
  ] as const) {
    assert.throws(
      () => parseOutputFlag(v),
      (e: Error & { code?: string }) => e.code === 'invalid_flag' && want.test(e.message),
      JSON.stringify(v),
    );
  }
});

test('-o conflicts: --load/--push, several platforms, stdout shared with -q or json, a terminal', () => {
  const local = parseOutputFlag(['out']);
  const stdout = parseOutputFlag(['-']);
  const base = { stdoutIsTty: false };
  assert.throws(() => checkOutputFlags(local, { ...base, load: true }), /--load/);
  assert.throws(() => checkOutputFlags(parseOutputFlag(['type=docker']), { ...base, push: true }), /--push/);
  assert.throws(
    () =>
      checkOutputFlags(parseOutputFlag(['type=tar,dest=o.tar']), {
        ...base,
        platform: 'linux/amd64,linux/arm64',
      }),
    /type=tar takes one platform/,
  );
  // A directory per platform.
  checkOutputFlags(local, { ...base, platform: 'linux/amd64,linux/arm64' });
  assert.throws(() => checkOutputFlags(stdout, { ...base, quiet: true }), /-q/);
  assert.throws(() => checkOutputFlags(stdout, { ...base, progress: 'json' }), /json/);
  assert.throws(() => checkOutputFlags(stdout, { stdoutIsTty: true }), /terminal/);
  checkOutputFlags(local, { ...base, quiet: true });
  // Image outputs fold into the flags depot has.
  const o = applyOutputFlag({ output: ['type=registry,name=r/a:1'], tag: ['x'], load: false, push: false });
  assert.deepEqual([o.output, o.push, o.tag], [undefined, true, ['x', 'r/a:1']]);
});
