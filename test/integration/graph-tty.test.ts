import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  DEPOT_BIN,
  isolatedEnv,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from './harness.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = skipReason() ?? (hasTmux ? undefined : 'tmux is not installed');

/** Two independent stages that run side by side, one built on the first, a final one reading two. */
const dockerfile = (nonce: string) =>
  [
    'FROM busybox AS deps',
    'COPY deps.txt /deps.txt',
    `RUN sleep 2 && echo "deps ${nonce}" > /deps.lock`,
    'FROM busybox AS assets',
    'COPY web/ /web/',
    `RUN sleep 2 && echo "assets ${nonce}" > /site.css`,
    'FROM deps AS build',
    'RUN cat /deps.lock > /app.bin',
    'FROM busybox',
    'COPY --from=build /app.bin /app.bin',
    'COPY --from=assets /site.css /site.css',
    '',
  ].join('\n');

describe('depot build --progress tty draws stages as lanes in a real terminal', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const sock = `depot-graph-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });

  before(async () => {
    builder = await startBuilder();
    token = builder.token('graph-tty');
  });
  after(async () => {
    spawnSync('tmux', ['-L', sock, 'kill-server']);
    await builder?.stop();
  });

  /** Runs one build in a `width`×`height` terminal; the screen and its scrollback once it exited. */
  const buildIn = async (width: number, height: number): Promise<string[]> => {
    const ctx = tempDir('graph-tty');
    const nonce = `${process.pid}-${width}-${Date.now()}`;
    mkdirSync(join(ctx, 'web'));
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile(nonce));
    writeFileSync(join(ctx, 'deps.txt'), `${nonce}\n`);
    writeFileSync(join(ctx, 'web', 'site.css'), 'body {}\n');
    // A real terminal: no CI markers (Ink renders only a final frame when it sees one).
    const { CI: _ci, ...base } = isolatedEnv();
    const env = Object.entries({ ...base, DOCKER_HOST: LAPTOP_ENGINE })
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const session = `w${width}`;
    const cmd = `env -u CI -u CONTINUOUS_INTEGRATION ${env} ${process.execPath} ${DEPOT_BIN} build --progress tty --builder ${builder.url} --token ${token} ${ctx}; echo "EXIT=$?"; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', String(width), '-y', String(height), cmd);
    const seenRunning = await until(
      'both independent stages running at once',
      () => {
        const p = tmux('capture-pane', '-p', '-t', session);
        return /EXIT=/.test(p)
          ? 'ended'
          : /⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏/.test(p) && /┌ deps/.test(p) && /┌ assets/.test(p) && p;
      },
      90_000,
    );
    assert.notEqual(seenRunning, 'ended', 'the lanes showed while the build ran');
    await until('the build exits', () => /EXIT=\d+/.test(tmux('capture-pane', '-p', '-t', session)), 90_000);
    return tmux('capture-pane', '-p', '-S', '-300', '-t', session)
      .split('\n')
      .map((l) => l.trimEnd());
  };

  const once = (lines: string[], re: RegExp) =>
    assert.equal(lines.filter((l) => re.test(l)).length, 1, `${re} once:\n${lines.join('\n')}`);

  test('140×40: deps and assets side by side, each part printed once, nothing wider than the terminal', async () => {
    const lines = await buildIn(140, 40);
    assert.ok(lines.includes('EXIT=0'), lines.join('\n'));
    for (const l of lines) assert.ok([...l].length <= 140, l);
    once(lines, /┌ deps · FROM busybox → build .*┌ assets · FROM busybox → stage-3/);
    once(lines, /┌ build · FROM deps → stage-3/);
    once(lines, /┌ stage-3 · FROM busybox ← build, assets/);
    once(lines, /internal · Dockerfile/);
    once(lines, /⟳ first build/);
  });

  test('80×24: the lanes one under the other, each printed once', async () => {
    const lines = await buildIn(80, 24);
    assert.ok(lines.includes('EXIT=0'), lines.join('\n'));
    for (const l of lines) assert.ok([...l].length <= 80, l);
    once(lines, /┌ deps · FROM busybox → build/);
    once(lines, /┌ assets · FROM busybox → stage-3/);
    once(lines, /[│└] COPY --from=assets \/site\.css \/site\.css ← assets/);
    assert.ok(!lines.some((l) => /┌ deps.*┌ assets/.test(l)));
  });
});
