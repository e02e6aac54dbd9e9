/**
 * `depot dev --sync auto` in a real terminal against real dockerds: a busybox httpd serves a
 * directory the rules (derived from the Dockerfile) sync; an edit is served without a new
 * container, the image rebuilt behind it is found in sync and the container kept; a change
 * outside the rules rebuilds and replaces; changes made while the container is stopped are not
 * lost (they go in when it runs again; the loop's own tests cover the order of events); a synced
 * file rewritten in the container is found as drift and the container replaced; a rule whose
 * destination the image lacks is set aside on screen and its changes rebuild.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devOwner } from '../../src/dev/container-runner.js';
import {
  type BuilderProcess,
  devOn,
  docker,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  terminalCommand,
  until,
} from './harness.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = skipReason() ?? (hasTmux ? undefined : 'tmux is not installed');

describe('depot dev --sync', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const sock = `depot-sync-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'dev').replace(/\s+/g, ' ');

  before(async () => {
    builder = await startBuilder();
    token = builder.token('dev-sync');
  });
  after(async () => {
    spawnSync('tmux', ['-L', sock, 'kill-server']);
    await builder?.stop();
  });

  test('an edit is served by the running container; the rebuilt image is found in sync; outside the rules it rebuilds; changes made while it is stopped are not lost; drift is repaired', async () => {
    const ctx = tempDir('dev-sync');
    mkdirSync(join(ctx, 'www'));
    mkdirSync(join(ctx, 'conf'));
    const nonce = `${process.pid}-${Date.now()}`;
    writeFileSync(join(ctx, 'www', 'index.html'), `v0 ${nonce}\n`);
    writeFileSync(join(ctx, 'conf', 'app.conf'), `c0 ${nonce}\n`);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nCOPY conf/ /etc/app/\nRUN cat /etc/app/app.conf\nCOPY www/ /www/\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
    );
    const tag = `depot-it/dev-sync:${process.pid}`;
    const port = 30_000 + (process.pid % 20_000);
    const owner = devOwner(realpathSync(ctx), '', [tag]);
    const container = () =>
      docker(LAPTOP_ENGINE, ['ps', '-a', '--filter', `label=dev.depot.owner=${owner}`, '--format', '{{.ID}}'])
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
    const served = () =>
      spawnSync('curl', ['-s', '-m', '1', `http://127.0.0.1:${port}/`], { encoding: 'utf8' }).stdout ?? '';

    const cmd = terminalCommand([
      ...devOn(builder.url, token),
      '-t',
      tag,
      '--run',
      `-p ${port}:80`,
      '--sync',
      'auto',
      ctx,
    ]);
    tmux('new-session', '-d', '-s', 'dev', '-x', '120', '-y', '32', cmd);
    try {
      await until('the app serves v0', () => served().startsWith('v0'), 90_000);
      // The rules derived from the Dockerfile: www/ (after the last RUN), not conf/ (a RUN reads it).
      await until('the rules on screen', () => /⇄ sync www → \/www \(Dockerfile:4\)/.test(screen()), 10_000);
      assert.match(screen(), /not synced: COPY conf\/ \/etc\/app\/ \(Dockerfile:2\): the RUN at line 3/);
      const [first] = container();
      assert.ok(first);

      // An edit under the rule: served by the same container, then the rebuilt image is in sync.
      writeFileSync(join(ctx, 'www', 'index.html'), `v1 ${nonce}\n`);
      await until('v1 served', () => served().startsWith('v1'), 10_000);
      await until('synced on screen', () => /synced 1 file in \d+ ms/.test(screen()), 10_000);
      await until('image checked', () => /already has its 1 synced path/.test(screen()), 60_000);
      assert.deepEqual(container(), [first], 'the container was not replaced');
      assert.equal(
        docker(LAPTOP_ENGINE, ['run', '--rm', '--entrypoint', 'cat', tag, '/www/index.html']).stdout,
        `v1 ${nonce}\n`,
        'the image has the edit too',
      );

      // Outside the rules: a rebuild that replaces the container.
      writeFileSync(join(ctx, 'conf', 'app.conf'), `c1 ${nonce}\n`);
      await until('replaced', () => (container()[0] ?? first) !== first, 60_000);
      await until('served again', () => served().startsWith('v1'), 10_000);
      const [second] = container();

      // Stopped behind the session's back: the edit waits and is not lost — it goes in when the
      // container runs again, or the image built meanwhile (which has it) replaces the container.
      docker(LAPTOP_ENGINE, ['stop', '-t', '1', second!]);
      writeFileSync(join(ctx, 'www', 'index.html'), `v2 ${nonce}\n`);
      await until('waiting on screen', () => /not running: 1 change wait/.test(screen()), 10_000);
      docker(LAPTOP_ENGINE, ['start', second!]);
      await until('v2 served after the restart', () => served().startsWith('v2'), 15_000);
      assert.equal(container().length, 1);
      await until('settled', () => !/rebuild in|building|loading/i.test(screen()), 60_000);

      // Drift: something in the container rewrites a synced file before the image lands. The
      // rebuilt image is checked against the container, which is replaced with the image.
      const [third] = container();
      writeFileSync(join(ctx, 'www', 'index.html'), `v3 ${nonce}\n`);
      await until('v3 served', () => served().startsWith('v3'), 10_000);
      docker(LAPTOP_ENGINE, ['exec', third!, 'sh', '-c', 'echo tampered > /www/index.html']);
      assert.equal(served(), 'tampered\n');
      await until('replaced after the drift', () => (container()[0] ?? third) !== third, 60_000);
      await until(
        'the drift on screen',
        () => /drift at 1 path \(\/www\/index\.html…\): replaced by the new image/.test(screen()),
        10_000,
      );
      await until('v3 served by the new container', () => served().startsWith('v3'), 10_000);

      tmux('send-keys', '-t', 'dev', 'q');
      await until('container removed on quit', () => container().length === 0, 20_000);
    } finally {
      for (const id of container()) docker(LAPTOP_ENGINE, ['rm', '-f', id]);
      docker(LAPTOP_ENGINE, ['rmi', '-f', tag]);
    }
  });

  test('a rule whose destination the image lacks is set aside on screen; its changes rebuild', async () => {
    const ctx = tempDir('dev-sync-absent');
    mkdirSync(join(ctx, 'www'));
    const nonce = `${process.pid}-${Date.now()}`;
    writeFileSync(join(ctx, 'www', 'index.html'), `v0 ${nonce}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY www/ /www/\nCMD ["sleep", "3600"]\n');
    const tag = `depot-it/dev-sync-absent:${process.pid}`;
    const owner = devOwner(realpathSync(ctx), '', [tag]);
    const container = () =>
      docker(LAPTOP_ENGINE, ['ps', '-a', '--filter', `label=dev.depot.owner=${owner}`, '--format', '{{.ID}}'])
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
    // A typo: the files live in /www, the rule says /srv/www.
    const cmd = terminalCommand([
      ...devOn(builder.url, token),
      '-t',
      tag,
      '--run',
      '-e DEPOT_TEST=1',
      '--sync',
      'www:/srv/www',
      ctx,
    ]);
    tmux('new-session', '-d', '-s', 'absent', '-x', '160', '-y', '32', cmd);
    const shot = () => tmux('capture-pane', '-p', '-t', 'absent').replace(/\s+/g, ' ');
    try {
      await until(
        'the rule set aside on screen',
        () => /not synced: www → \/srv\/www \(--sync\): \/srv\/www is not in the image/.test(shot()),
        90_000,
      );
      const [first] = container();
      assert.ok(first);
      writeFileSync(join(ctx, 'www', 'index.html'), `v1 ${nonce}\n`);
      await until(
        'rebuilding, with the reason',
        () =>
          /rebuilding: www\/index\.html: the rule's destination \/srv\/www is not in the image/.test(shot()),
        10_000,
      );
      await until('replaced', () => (container()[0] ?? first) !== first, 60_000);
      const [second] = container();
      assert.equal(
        docker(LAPTOP_ENGINE, ['exec', second!, 'cat', '/www/index.html']).stdout,
        `v1 ${nonce}\n`,
      );
      assert.notEqual(docker(LAPTOP_ENGINE, ['exec', second!, 'ls', '/srv/www']).code, 0, 'nothing created');
      tmux('send-keys', '-t', 'absent', 'q');
      await until('container removed on quit', () => container().length === 0, 20_000);
    } finally {
      for (const id of container()) docker(LAPTOP_ENGINE, ['rm', '-f', id]);
      docker(LAPTOP_ENGINE, ['rmi', '-f', tag]);
    }
  });
});
