import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createTraceRecorder, readTrace, type TracedEvent } from './trace.js';

const V1 = 'sha256:v1';
const V2 = 'sha256:v2';
const vertex = (digest: string, name: string, startedMs: number, completedMs = 0) => ({
  vertex: { digest, name, inputs: [], cached: false, startedMs, completedMs, error: '' },
});
const log = (vertex: string, data: string | Buffer, timestampMs = 1) => ({
  log: { vertex, stream: 1, data: typeof data === 'string' ? Buffer.from(data) : data, timestampMs },
});
const status = (vertex: string, id: string, current: number, completedMs = 0) => ({
  status: { id, vertex, name: id, current, total: 100, timestampMs: 0, startedMs: 1, completedMs },
});

async function all(data: Buffer): Promise<TracedEvent[]> {
  const out: TracedEvent[] = [];
  for await (const e of readTrace(data)) out.push(e);
  return out;
}

/** Random text that gzip cannot shrink much (hex of random bytes). */
const noise = (bytes: number) =>
  randomBytes(Math.ceil(bytes / 2))
    .toString('hex')
    .slice(0, bytes);

describe('build traces', () => {
  test('every sent event comes back in order with its time; output events are not kept', async () => {
    const t = createTraceRecorder({ maxBytes: 1024 * 1024 });
    t.add(vertex(V1, '[1/2] FROM busybox', 10), 100);
    t.add(log(V1, 'héllo\n', 11), 101);
    t.add({ output: { data: Buffer.from('secret file bytes') } }, 102);
    t.add({ explained: { vertex: V1, cause: { kind: 'first_build', text: 'first build' } } }, 103);
    t.add({ saved: { vertex: V2, coldMs: 1200 } }, 104);
    t.add({ message: 'warning' }, 105);
    t.add({ info: 'context: 1 kB' }, 106);
    t.add({ result: { ok: true, imageId: 'sha256:img', tags: ['app'] } }, 107);
    const sealed = await t.seal();
    assert.ok(sealed);
    assert.equal(sealed.codec, 'gzip');
    assert.equal(sealed.events, 7);
    assert.deepEqual(sealed.cut, { logBytes: 0, statuses: 0, events: 0 });
    assert.ok(!gunzipSync(sealed.data).toString().includes('secret file bytes'));
    const back = await all(sealed.data);
    assert.deepEqual(
      back.map((e) => e.timeMs),
      [100, 101, 103, 104, 105, 106, 107],
    );
    assert.deepEqual(back[0]!.event.vertex?.name, '[1/2] FROM busybox');
    assert.deepEqual(back[1]!.event.log, { vertex: V1, stream: 1, data: 'héllo\n', timestampMs: 11 });
    assert.equal(back[2]!.event.explained?.cause?.kind, 'first_build');
    assert.equal(back[3]!.event.saved?.coldMs, 1200);
    assert.equal(back[4]!.event.message, 'warning');
    assert.equal(back[5]!.event.info, 'context: 1 kB');
    assert.equal(back[6]!.event.result?.imageId, 'sha256:img');
  });

  test('maxBytes 0 keeps no trace', async () => {
    const t = createTraceRecorder({ maxBytes: 0 });
    t.add(vertex(V1, 'x', 1), 1);
    assert.equal(await t.seal(), undefined);
  });

  test("a sub-task's progress is kept as often as plain output prints it, and its first completion", async () => {
    const t = createTraceRecorder({ maxBytes: 1024 * 1024 });
    for (let ms = 0; ms <= 3000; ms += 100) t.add(status(V1, 'layer', ms), 1000 + ms);
    t.add(status(V1, 'layer', 100, 5000), 4100);
    t.add(status(V1, 'layer', 100, 5000), 4200);
    const back = await all((await t.seal())!.data);
    // 0, 1000, 2000, 3000 ms in, then the completed one (not its repeat).
    assert.deepEqual(
      back.map((e) => e.event.status?.current),
      [0, 1000, 2000, 3000, 100],
    );
  });

  test('over its memory bound the oldest step logs go first; each cut step keeps a line saying how much', async () => {
    const t = createTraceRecorder({ maxBytes: 4 * 1024 * 1024, memoryBytes: 64 * 1024 });
    t.add(vertex(V1, '[1/2] RUN a', 1), 1);
    t.add(vertex(V2, '[2/2] RUN b', 2), 2);
    for (let i = 0; i < 100; i++) t.add(log(i < 50 ? V1 : V2, `${i} ${'x'.repeat(1000)}\n`), 10 + i);
    t.add({ result: { ok: true, imageId: 'sha256:i' } }, 500);
    const sealed = (await t.seal())!;
    assert.ok(sealed.cut.logBytes > 0);
    assert.equal(sealed.cut.statuses, 0);
    const back = await all(sealed.data);
    // Both vertices and the result are kept; the last log lines survive.
    assert.ok(back.some((e) => e.event.vertex?.digest === V1));
    assert.ok(back.some((e) => e.event.result));
    const logs = back.filter((e) => e.event.log).map((e) => e.event.log!);
    assert.ok(logs.at(-1)!.data.startsWith('99 '));
    // V1's log was cut (it came first): one marker, before what is left of it, saying how much.
    const markers = logs.filter((l) => l.data.startsWith('[depot:'));
    assert.ok(markers.length >= 1);
    const m1 = markers.find((l) => l.vertex === V1)!;
    assert.match(m1.data, /^\[depot: [\d.]+ KiB of this step's log left out of the stored trace\]\n$/);
    assert.ok(logs.indexOf(m1) < logs.findIndex((l) => l.vertex === V1 && !l.data.startsWith('[depot:')));
    // What was kept and what was cut add up to what was sent.
    const sent = Array.from({ length: 100 }, (_, i) => `${i} ${'x'.repeat(1000)}\n`.length).reduce(
      (a, b) => a + b,
    );
    const kept = logs.reduce((n, l) => n + l.data.replace(/^\[depot: [^\]]*\]\n/, '').length, 0);
    assert.equal(kept + sealed.cut.logBytes, sent);
    assert.ok(sealed.rawBytes <= 64 * 1024);
  });

  test('the stored trace is cut to maxBytes: logs first, then progress, and says so', async () => {
    const maxBytes = 64 * 1024;
    const t = createTraceRecorder({ maxBytes, memoryBytes: 8 * 1024 * 1024 });
    t.add(vertex(V1, '[1/1] RUN noisy', 1), 1);
    for (let i = 0; i < 200; i++) t.add(log(V1, `${noise(2000)}\n`), 10 + i);
    t.add(vertex(V1, '[1/1] RUN noisy', 1, 900), 900);
    t.add({ result: { ok: false, error: 'exit 1', errorCode: 'step_failed' } }, 1000);
    const sealed = (await t.seal())!;
    assert.ok(sealed.data.length <= maxBytes, `${sealed.data.length} > ${maxBytes}`);
    assert.ok(sealed.cut.logBytes > 200 * 2000 - 200 * 1000, JSON.stringify(sealed.cut));
    const back = await all(sealed.data);
    assert.equal(back.at(-1)!.event.result?.errorCode, 'step_failed');
    assert.equal(back.filter((e) => e.event.vertex).length, 2);
    const logs = back.filter((e) => e.event.log);
    assert.ok(logs[0]!.event.log!.data.startsWith('[depot: '), logs[0]!.event.log!.data);
    assert.ok(logs.length > 2, 'the newest lines are kept');
  });

  test('a long log chunk is cut to its last whole lines, after the marker', async () => {
    const maxBytes = 8 * 1024;
    const t = createTraceRecorder({ maxBytes });
    t.add(vertex(V1, '[1/1] RUN od', 1), 1);
    const lines = Array.from({ length: 4000 }, (_, i) => `${i} ${noise(40)}\n`);
    // BuildKit sends a step's output in a few large chunks.
    for (let i = 0; i < 4000; i += 1000) t.add(log(V1, lines.slice(i, i + 1000).join('')), 10 + i);
    t.add(log(V1, 'last line\n'), 5000);
    t.add({ result: { ok: true } }, 5001);
    const sealed = (await t.seal())!;
    assert.ok(sealed.data.length <= maxBytes, `${sealed.data.length}`);
    const logs = (await all(sealed.data)).filter((e) => e.event.log).map((e) => e.event.log!.data);
    const text = logs.join('');
    // One marker, then whole lines up to the very last one.
    assert.equal(text.match(/\[depot: /g)?.length, 1, text.slice(0, 200));
    assert.match(
      text,
      /^\[depot: [\d.]+ KiB of this step's log left out of the stored trace\]\n\d+ [0-9a-f]{40}\n/,
    );
    assert.ok(text.endsWith(`${lines.at(-1)}last line\n`));
    const keptLines = text.split('\n').slice(1, -1);
    assert.ok(keptLines.length > 10, `${keptLines.length} lines kept`);
    assert.equal(
      sealed.cut.logBytes + Buffer.byteLength(keptLines.join('\n')) + 1,
      lines.join('').length + 10,
    );
  });

  test('with no logs to cut, progress updates go; the last resort keeps each step, causes and the result', async () => {
    const maxBytes = 8 * 1024;
    const t = createTraceRecorder({ maxBytes, memoryBytes: 64 * 1024 * 1024 });
    for (let v = 0; v < 20; v++) {
      t.add(vertex(`sha256:${v}`, `[${v}/20] RUN ${noise(50)}`, 1), 1);
      for (let s = 0; s < 40; s++) t.add(status(`sha256:${v}`, noise(40), s), 2 + s * 2000);
      t.add(vertex(`sha256:${v}`, `[${v}/20] RUN`, 1, 2), 3);
      t.add({ explained: { vertex: `sha256:${v}`, cause: { kind: 'unknown', text: noise(100) } } }, 4);
    }
    t.add({ result: { ok: true } }, 10);
    const sealed = (await t.seal())!;
    assert.ok(sealed.data.length <= maxBytes, `${sealed.data.length}`);
    assert.ok(sealed.cut.statuses > 0);
    const back = await all(sealed.data);
    assert.ok(back.some((e) => e.event.result));
  });
});
