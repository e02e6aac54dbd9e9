import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tarStream from 'tar-stream';
import type { ContainerSyncer, SyncChange } from '../../src/dev/index.js';
import { createContainerSyncer, EXEC_OUTPUT_CAP } from '../../src/docker/index.js';
import { DOCKER, docker, LAPTOP_ENGINE, tempDir, until } from './harness.js';

const skip = LAPTOP_ENGINE ? undefined : 'engines not started: run through scripts/with-engines.sh';
const LABEL = 'depot.test=container-sync';
/** An image with a static busybox as /sleep and nothing else: no sh, no rm. */
const BARE_IMAGE = 'depot-test-bare:container-sync';

function dk(...args: string[]): string {
  const r = docker(LAPTOP_ENGINE, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** `docker exec` in a container: its stdout, trimmed. */
function inContainer(id: string, ...cmd: string[]): string {
  return dk('exec', id, ...cmd);
}

/** The text of a file in a container, through `docker cp` (works without anything in the image). */
function copyOut(id: string, path: string): string {
  const tar = execFileSync(DOCKER, ['cp', `${id}:${path}`, '-'], {
    env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
  });
  // One regular file: a 512-byte header, then its content (size in octal at offset 124).
  const size = Number.parseInt(tar.subarray(124, 136).toString().replace(/\0.*$/, '').trim(), 8);
  return tar.subarray(512, 512 + size).toString();
}

async function buildBareImage(): Promise<void> {
  const busybox = execFileSync(DOCKER, ['run', '--rm', 'busybox', 'cat', '/bin/busybox'], {
    env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
    maxBuffer: 64 * 1024 * 1024,
  });
  const pack = tarStream.pack();
  pack.entry({ name: 'sleep', mode: 0o755, uid: 0, gid: 0 }, busybox);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  execFileSync(DOCKER, ['import', '--change', 'CMD ["/sleep", "3600"]', '-', BARE_IMAGE], {
    env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
    input: Buffer.concat(chunks),
  });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('container sync over the engine API', { skip }, () => {
  let syncer: ContainerSyncer;
  let box = '';
  let bare = '';
  const local = tempDir('container-sync');
  const file = (name: string, content: string | Buffer) => {
    const p = join(local, name);
    writeFileSync(p, content);
    return p;
  };

  before(async () => {
    syncer = createContainerSyncer(LAPTOP_ENGINE);
    // A TERM trap so that a restart does not wait for the kill.
    box = dk('run', '-d', '--label', LABEL, 'busybox', 'sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait');
    await buildBareImage();
    bare = dk('run', '-d', '--label', LABEL, BARE_IMAGE);
  });

  after(() => {
    const ids = docker(LAPTOP_ENGINE, ['ps', '-aq', '--filter', `label=${LABEL}`])
      .stdout.trim()
      .split('\n');
    if (ids[0]) docker(LAPTOP_ENGINE, ['rm', '-f', ...ids]);
    docker(LAPTOP_ENGINE, ['rmi', BARE_IMAGE]);
  });

  test('one batch: files, a link and new nested directories land with their owner, mode and content', async () => {
    const a = file('a.txt', 'alpha\n');
    const b = file('b.sh', '#!/bin/sh\necho beta\n');
    await syncer.apply(box, [
      { kind: 'dir', dest: '/srv/new', mode: 0o755, uid: 1000, gid: 1000 },
      { kind: 'file', dest: '/srv/new/a.txt', source: a, mode: 0o640, uid: 1000, gid: 1000 },
      // Its parent /srv/new/deep is in no change: it is created, owned like what goes in it.
      { kind: 'file', dest: '/srv/new/deep/b.sh', source: b, mode: 0o755, uid: 1000, gid: 1000 },
      { kind: 'symlink', dest: '/srv/new/link', target: 'a.txt', uid: 1000, gid: 1000 },
    ]);
    const stat = (p: string) => inContainer(box, 'stat', '-c', '%u:%g %a', p);
    assert.equal(stat('/srv/new'), '1000:1000 755');
    assert.equal(stat('/srv/new/a.txt'), '1000:1000 640');
    assert.equal(stat('/srv/new/deep'), '1000:1000 755');
    assert.equal(stat('/srv/new/deep/b.sh'), '1000:1000 755');
    assert.equal(inContainer(box, 'stat', '-c', '%u:%g %F', '/srv/new/link'), '1000:1000 symbolic link');
    assert.equal(inContainer(box, 'readlink', '/srv/new/link'), 'a.txt');
    assert.equal(inContainer(box, 'cat', '/srv/new/link'), 'alpha');
    assert.equal(inContainer(box, '/srv/new/deep/b.sh'), 'beta');
    // busybox has no /srv: created too, like what goes in it (an existing one is kept: next test).
    assert.equal(stat('/srv'), '1000:1000 755');
  });

  test('an existing directory keeps its owner and mode when a file is synced into it', async () => {
    inContainer(box, 'sh', '-c', 'mkdir -p /data/keep && chown 123:456 /data/keep && chmod 710 /data/keep');
    const x = file('x.txt', 'x\n');
    await syncer.apply(box, [
      { kind: 'file', dest: '/data/keep/x.txt', source: x, mode: 0o644, uid: 1000, gid: 1000 },
      { kind: 'file', dest: '/data/keep/m1/m2/y.txt', source: x, mode: 0o600, uid: 7, gid: 8 },
    ]);
    const stat = (p: string) => inContainer(box, 'stat', '-c', '%u:%g %a', p);
    assert.equal(stat('/data/keep'), '123:456 710');
    assert.equal(stat('/data'), '0:0 755');
    assert.equal(stat('/data/keep/x.txt'), '1000:1000 644');
    assert.equal(stat('/data/keep/m1'), '7:8 755');
    assert.equal(stat('/data/keep/m1/m2'), '7:8 755');
    assert.equal(stat('/data/keep/m1/m2/y.txt'), '7:8 600');
  });

  test('deletions, and a directory replaced by a file in the same batch', async () => {
    inContainer(
      box,
      'sh',
      '-c',
      'mkdir -p /del/dir/sub /del/swap && touch /del/f /del/dir/sub/g /del/swap/old',
    );
    const s = file('swap.txt', 'now a file\n');
    await syncer.apply(box, [
      { kind: 'delete', dest: '/del/f' },
      { kind: 'delete', dest: '/del/dir' },
      { kind: 'delete', dest: '/del/swap' },
      { kind: 'file', dest: '/del/swap', source: s, mode: 0o644, uid: 0, gid: 0 },
      { kind: 'delete', dest: '/del/never-there' },
    ]);
    assert.equal(inContainer(box, 'ls', '-A', '/del'), 'swap');
    assert.equal(inContainer(box, 'cat', '/del/swap'), 'now a file');
  });

  test('a source that cannot be read fails the batch before anything is written', async () => {
    const ok = file('ok.txt', 'ok\n');
    await assert.rejects(
      syncer.apply(box, [
        { kind: 'file', dest: '/half/ok.txt', source: ok, mode: 0o644, uid: 0, gid: 0 },
        {
          kind: 'file',
          dest: '/half/gone.txt',
          source: join(local, 'gone.txt'),
          mode: 0o644,
          uid: 0,
          gid: 0,
        },
      ]),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'sync_source_failed');
        assert.match(e.message, /^cannot read .*gone\.txt: /);
        return true;
      },
    );
    assert.notEqual(docker(LAPTOP_ENGINE, ['exec', box, 'test', '-e', '/half']).code, 0);
  });

  test('hashes: the content digest of files, undefined for what is missing or not a file', async () => {
    // Bigger than what is read ahead: streamed from disk into the upload, and hashed as a stream.
    const bigContent = Buffer.alloc(5 * 1024 * 1024 + 123, 'z');
    const big = file('big.bin', bigContent);
    const small = file('small.txt', 'small\n');
    await syncer.apply(box, [
      { kind: 'file', dest: '/h/big.bin', source: big, mode: 0o644, uid: 0, gid: 0 },
      { kind: 'file', dest: '/h/small.txt', source: small, mode: 0o644, uid: 0, gid: 0 },
      { kind: 'symlink', dest: '/h/link', target: 'small.txt', uid: 0, gid: 0 },
    ]);
    const got = await syncer.hashes(box, ['/h/small.txt', '/h/big.bin', '/h/missing', '/h', '/h/link']);
    assert.deepEqual(
      [...got],
      [
        ['/h/small.txt', sha256(readFileSync(small))],
        ['/h/big.bin', sha256(bigContent)],
        ['/h/missing', undefined],
        ['/h', undefined],
        ['/h/link', undefined],
      ],
    );
    assert.equal(inContainer(box, 'sha256sum', '/h/big.bin').split(' ')[0], sha256(bigContent));
  });

  test('exec: output of both streams, the exit code, output capped to its end', async () => {
    // Both streams, in whatever order the engine's two pipes deliver them.
    const both = await syncer.exec(box, 'echo out; echo err >&2; exit 3');
    assert.equal(both.exitCode, 3);
    assert.deepEqual(both.output.split('\n').sort(), ['', 'err', 'out']);
    assert.deepEqual(await syncer.exec(box, 'cat /del/swap'), { exitCode: 0, output: 'now a file\n' });
    const long = await syncer.exec(box, `yes abcdefg | head -c ${3 * EXEC_OUTPUT_CAP}; echo END`);
    assert.equal(long.exitCode, 0);
    assert.ok(long.output.length <= EXEC_OUTPUT_CAP + 100, `output of ${long.output.length} chars`);
    assert.match(long.output, /^\(\d+ bytes of output left out\)\n/);
    assert.ok(long.output.endsWith('END\n'));
  });

  test('apply answers when the process started; missing names the paths the container lacks', async () => {
    const f = file('m.txt', 'm\n');
    const r = await syncer.apply(box, [
      { kind: 'file', dest: '/m/m.txt', source: f, mode: 0o644, uid: 0, gid: 0 },
    ]);
    assert.equal(r.startedAt, await syncer.startedAt(box));
    assert.deepEqual(await syncer.missing(box, ['/m/m.txt', '/m', '/nope', '/etc', '/nope/deeper']), [
      '/nope',
      '/nope/deeper',
    ]);
  });

  test('restart starts the process again: startedAt changes', async () => {
    const before = await syncer.startedAt(box);
    assert.match(before, /^\d{4}-\d\d-\d\dT/);
    const t0 = Date.now();
    await syncer.restart(box);
    const elapsed = Date.now() - t0;
    const after = await syncer.startedAt(box);
    assert.match(after, /^\d{4}-\d\d-\d\dT/);
    assert.notEqual(after, before);
    assert.ok(elapsed < 2000, `restart took ${elapsed} ms`);
  });

  test('an image without rm or sh: files still sync, deletions and exec say why they cannot', async () => {
    const f = file('bare.txt', 'in a bare image\n');
    await syncer.apply(bare, [
      { kind: 'file', dest: '/app/bare.txt', source: f, mode: 0o644, uid: 0, gid: 0 },
    ]);
    assert.equal(copyOut(bare, '/app/bare.txt'), 'in a bare image\n');
    await assert.rejects(
      syncer.apply(bare, [{ kind: 'delete', dest: '/app/bare.txt' }]),
      (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, 'sync_delete_unsupported');
        assert.equal(e.message, 'cannot delete /app/bare.txt in the container: its image has no rm');
        assert.equal(e.hint, 'deletions need rm in the image; the dev loop rebuilds instead');
        return true;
      },
    );
    await assert.rejects(syncer.exec(bare, 'true'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'sync_exec_unsupported');
      assert.match(e.message, /its image has no sh$/);
      return true;
    });
  });

  test('a container that is not running: apply says so, startedAt is empty', async () => {
    const stopped = dk('create', '--label', LABEL, 'busybox', 'true');
    const f = file('s.txt', 's\n');
    const changes: SyncChange[] = [{ kind: 'file', dest: '/s.txt', source: f, mode: 0o644, uid: 0, gid: 0 }];
    await assert.rejects(syncer.apply(stopped, changes), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'container_not_running');
      assert.equal(e.message, 'the container is not running');
      return true;
    });
    assert.equal(await syncer.startedAt(stopped), '');
    await assert.rejects(syncer.exec(stopped, 'true'), { code: 'container_not_running' });
  });

  test('a cancelled call rejects as cancelled', async () => {
    const f = file('c.txt', 'c\n');
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      syncer.apply(
        box,
        [{ kind: 'file', dest: '/c.txt', source: f, mode: 0o644, uid: 0, gid: 0 }],
        ac.signal,
      ),
      { code: 'cancelled' },
    );
  });

  test('micro-measure: one small file, edit to visible in the container (logged, not asserted)', async () => {
    const src = file('measure.txt', 'v0\n');
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      writeFileSync(src, `v${i}\n`);
      const t0 = performance.now();
      await syncer.apply(box, [
        { kind: 'file', dest: '/srv/app/measure.txt', source: src, mode: 0o644, uid: 0, gid: 0 },
      ]);
      times.push(performance.now() - t0);
    }
    await until('the last version', () => inContainer(box, 'cat', '/srv/app/measure.txt') === 'v20');
    const sorted = times.slice(1).sort((x, y) => x - y);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
    console.log(
      `container sync apply of 1 small file: p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms (n=20)`,
    );
  });
});
