import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardable } from './forward.js';
import { Frame, type FrameType, frame, frameReader, MAX_FRAME_BYTES } from './frames.js';

test('frames survive any split of the byte stream', () => {
  const sent: [number, string][] = [
    [Frame.accepted, ''],
    [Frame.stdout, 'hello\n'],
    [Frame.stderr, 'x'.repeat(70_000)],
    [Frame.exit, '130'],
  ];
  const bytes = Buffer.concat(sent.map(([t, p]) => frame(t as FrameType, p)));
  for (const step of [1, 3, 5, 7, 4096, bytes.length]) {
    const got: [number, string][] = [];
    const read = frameReader((t, p) => got.push([t, p.toString()]));
    for (let i = 0; i < bytes.length; i += step) read(bytes.subarray(i, i + step));
    assert.deepEqual(got, sent, `chunks of ${step}`);
  }
});

test('a frame over the limit is refused before its bytes arrive', () => {
  const head = Buffer.alloc(5);
  head[0] = Frame.stdout;
  head.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
  assert.throws(() => frameReader(() => {})(head), /over the limit/);
});

test('only builds that read nothing from stdin go to the agent, and only when it is wanted', () => {
  const env = { DEPOT_AGENT: '1' };
  assert.equal(forwardable(['build', '.'], env), true);
  assert.equal(forwardable(['build', '-t', 'x', 'ctx'], {}), true);
  assert.equal(forwardable(['dev', '.'], env), false);
  assert.equal(forwardable(['login'], env), false);
  assert.equal(forwardable(['build', '-'], env), false);
  assert.equal(forwardable(['build', '-f', '-', '.'], env), false);
  assert.equal(forwardable(['build', '--secret', 'id=a,src=/dev/stdin', '.'], env), false);
  assert.equal(forwardable(['build', '--no-agent', '.'], env), false);
  assert.equal(forwardable(['build', '.'], { DEPOT_NO_AGENT: '1' }), false);
  assert.equal(forwardable(['build', '.'], { CI: 'true' }), false);
  assert.equal(forwardable(['build', '.'], { CI: 'true', DEPOT_AGENT: '1' }), true);
});
