/**
 * A step's details against a real builder: the size of each layer the build made arrives on the
 * Build stream (`step/layer`) and is what `docker image history` says of the built image; and in
 * `depot dev`, in a real terminal (tmux), enter on a selected RUN step shows its command, cache key
 * and layer size.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  depot,
  devOn,
  docker,
  NO_TMUX,
  skipReason,
  startBuilder,
  tempDir,
  terminalCommand,
  tmuxServer,
  until,
} from './harness.js';

const skip = skipReason();

interface Event {
  type: string;
  vertex?: string | { digest: string; name: string };
  bytes?: number;
  imageId?: string;
  ok?: boolean;
}

describe('step details against a real builder', { skip }, () => {
  let builder: BuilderProcess;
  const term = tmuxServer('depot-details');

  before(async () => {
    builder = await startBuilder();
  });
  after(async () => {
    term.kill();
    await builder?.stop();
  });

  test('each layer of the image’s own stage arrives with its size, as docker image history has it', async () => {
    const project = `layers-${process.pid}`;
    const ctx = tempDir('layers');
    const nonce = `${process.pid}-${Date.now()}`;
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM busybox AS build',
        `RUN head -c 50000 /dev/zero > /big && echo ${nonce}`,
        'FROM busybox',
        'ENV MODE=test',
        'COPY --from=build /big /app/big',
        `RUN head -c 7000 /dev/zero > /app/small && echo ${nonce}`,
        'COPY note.txt /app/note.txt',
        'CMD ["ls", "/app"]',
        '',
      ].join('\n'),
    );
    writeFileSync(join(ctx, 'note.txt'), 'eleven b.\n');
    const r = await depot([...buildOn(builder.url, builder.token(project), project, 'json'), ctx]);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Event);
    const names = new Map<string, string>();
    for (const e of events)
      if (e.type === 'vertex/updated' && typeof e.vertex === 'object' && e.vertex.name)
        names.set(e.vertex.digest, e.vertex.name);
    const layers = new Map<string, number>();
    for (const e of events)
      if (e.type === 'step/layer')
        layers.set(names.get(e.vertex as string) ?? `? ${e.vertex}`, e.bytes ?? -1);
    const finished = events.find((e) => e.type === 'build/finished');
    assert.ok(finished?.ok && finished.imageId, 'the build made an image');
    const lastStep = events.findIndex((e) => e.type === 'step/layer');
    assert.ok(lastStep >= 0 && lastStep < events.indexOf(finished), 'the sizes come before the result');

    // What the engine itself says of the image's layers (newest first, sizes in bytes).
    const h = docker(BUILDER_ENGINE, [
      'image',
      'history',
      '--no-trunc',
      '--human=false',
      '--format',
      '{{.CreatedBy}}\t{{.Size}}',
      finished.imageId,
    ]);
    assert.equal(h.code, 0, h.stderr);
    const sizeOf = (createdBy: RegExp) => {
      const line = h.stdout.split('\n').find((l) => createdBy.test(l.split('\t')[0] ?? ''));
      assert.ok(line, `${createdBy} in\n${h.stdout}`);
      return Number(line.split('\t')[1]);
    };
    const step = (instruction: RegExp) => {
      const found = [...layers].find(([name]) => instruction.test(name));
      assert.ok(found, `${instruction} among ${[...layers.keys()].join(', ')}`);
      return found[1];
    };
    const copied = step(/\] COPY --from=build \/big \/app\/big$/);
    const ran = step(/\] RUN head -c 7000 /);
    const note = step(/\] COPY note\.txt \/app\/note\.txt$/);
    assert.equal(copied, sizeOf(/^COPY \/big \/app\/big /));
    assert.equal(ran, sizeOf(/^RUN .*head -c 7000 /));
    assert.equal(note, sizeOf(/^COPY note\.txt \/app\/note\.txt /));
    // And they are the bytes the steps wrote.
    assert.equal(copied, 50_000);
    assert.equal(ran, 7000);
    assert.equal(note, 10);
    // The stage it copies from left no layer in this image: it is told nothing.
    assert.equal(layers.size, 3, [...layers.keys()].join('\n'));
  });

  test('depot dev in a real terminal: enter on a selected RUN step shows its command, cache key and layer size', {
    skip: NO_TMUX,
  }, async () => {
    const project = `details-${process.pid}`;
    const ctx = tempDir('details');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM busybox\nRUN head -c 40000 /dev/zero > /blob && echo details ${process.pid} ${Date.now()}\nCOPY a.txt /a.txt\n`,
    );
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    const tag = `depot-it/details:${process.pid}`;
    term.start(
      'dev',
      100,
      30,
      terminalCommand([...devOn(builder.url, builder.token(project)), '-t', tag, ctx]),
    );
    const pane = () => term.pane('dev');
    await until('the first build done', () => /build #1 .*\d+ steps · \d+ cached/.test(pane()), 120_000);
    // Up until the RUN row carries the selection marker.
    const selected = /^.›#\d+ .*RUN head -c 40000/m;
    const selectedRow = () =>
      pane()
        .split('\n')
        .find((l) => /^.›/.test(l)) ?? '';
    for (let i = 0; i < 12 && !selected.test(pane()); i++) {
      const before = selectedRow();
      term.keys('dev', 'Up');
      await until('the selection moved', () => selectedRow() !== before, 5_000);
    }
    assert.match(pane(), selected);
    term.keys('dev', 'Enter');
    const shot = await until('the details', () => /^ {2}layer {4}/m.test(pane()) && pane(), 10_000);
    assert.match(shot, /step #\d+ · 2\/3 · ran \d+\.\ds +enter closes/);
    assert.match(shot, /^ {2}command {2}RUN head -c 40000 \/dev\/zero > \/blob && echo details /m);
    assert.match(shot, /^ {2}key {6}sha256:[0-9a-f]{4}…[0-9a-f]{4} · miss/m);
    assert.match(shot, /^ {2}layer {4}40kB$/m);
    assert.match(shot, /enter builds/);
    term.keys('dev', 'q');
    await until('dev exits on q', () => term.gone('dev'), 15_000);
  });
});
