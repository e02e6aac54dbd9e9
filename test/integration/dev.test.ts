import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  DEPOT_BIN,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  tmuxSessionGone,
  until,
} from './harness.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = skipReason() ?? (hasTmux ? undefined : 'tmux is not installed');

function fixture(extra = ''): string {
  const ctx = tempDir('dev');
  writeFileSync(
    join(ctx, 'Dockerfile'),
    `FROM busybox\nCOPY base.txt /base.txt\nRUN cat /base.txt > /out.txt\nCOPY app.txt /app.txt\n${extra}RUN cat /app.txt >> /out.txt\nCMD ["cat", "/out.txt"]\n`,
  );
  writeFileSync(join(ctx, 'base.txt'), `base ${process.pid} ${Date.now()}\n`);
  writeFileSync(join(ctx, 'app.txt'), 'app v0\n');
  return ctx;
}

/** `depot dev --progress json` as a child process; its events parsed as they arrive. */
function devJson(ctx: string, builder: BuilderProcess, token: string, args: string[] = []) {
  const child: ChildProcess = spawn(
    process.execPath,
    [DEPOT_BIN, 'dev', '--progress', 'json', '--builder', builder.url, '--token', token, ...args, ctx],
    {
      env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const events: Record<string, unknown>[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const count = (type: string, pred: (e: Record<string, unknown>) => boolean = () => true) =>
    events.filter((e) => e.type === type && pred(e)).length;
  return {
    child,
    events,
    stderr: () => stderr,
    count,
    /** Waits for the n-th successful load (an image in the local engine). */
    loaded: (n: number, timeoutMs = 90_000) =>
      until(`load #${n}\n${stderr}`, () => count('load/finished') >= n, timeoutMs),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function runImage(tag: string): string {
  const r = docker(LAPTOP_ENGINE, ['run', '--rm', tag]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('depot dev against real daemons', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const tmuxSock = `depot-test-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', tmuxSock, ...args], { encoding: 'utf8' });
  const pane = (s: string) => tmux('capture-pane', '-p', '-t', s);

  before(async () => {
    builder = await startBuilder();
    token = builder.token('dev');
  });
  after(async () => {
    spawnSync('tmux', ['-L', tmuxSock, 'kill-server']);
    await builder?.stop();
  });

  test('in a real terminal: edit → new image, cached steps marked; builder restart → reconnect and resume', async () => {
    const ctx = fixture();
    const tag = `depot-it/dev-tmux:${process.pid}`;
    // A real terminal session: no CI markers (Ink renders only a final frame when it sees one).
    const { CI: _ci, ...base } = isolatedEnv();
    const env = Object.entries({ ...base, DOCKER_HOST: LAPTOP_ENGINE })
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const cmd = `env -u CI -u CONTINUOUS_INTEGRATION ${env} ${process.execPath} ${DEPOT_BIN} dev --builder ${builder.url} --token ${token} -t ${tag} ${ctx}`;
    tmux('new-session', '-d', '-s', 'dev', '-x', '100', '-y', '30', cmd);
    await until(
      'first image',
      () => /#1/.test(pane('dev')) && docker(LAPTOP_ENGINE, ['image', 'inspect', tag]).code === 0,
      90_000,
    );
    assert.equal(runImage(tag).trim().split('\n').at(-1), 'app v0');

    writeFileSync(join(ctx, 'app.txt'), 'app v1\n');
    await until('image with the edit', () => runImage(tag).includes('app v1'), 60_000);
    const screen = await until('rebuild on screen', () => {
      const p = pane('dev');
      return /app\.txt/.test(p) && /CACHED/.test(p) && p;
    });
    assert.match(screen, /CACHED/);

    // Kill the builder: the screen says reconnecting; restart it on the same port and data.
    const port = builder.url.split(':').at(-1)!;
    await builder.stop();
    await until('reconnecting on screen', () => /reconnecting/i.test(pane('dev')), 30_000);
    builder = await startBuilder({ dataDir: builder.dataDir, listen: `127.0.0.1:${port}` });
    await until('connected again', () => !/reconnecting/i.test(pane('dev')), 30_000);
    writeFileSync(join(ctx, 'app.txt'), 'app v2\n');
    await until('image after the restart', () => runImage(tag).includes('app v2'), 60_000);
    // Resumed from the acknowledged snapshot: the builder received only the edited file.
    const syncs = builder
      .logs()
      .split('\n')
      .filter((l) => l.includes('"snapshot ready"'))
      .map((l) => JSON.parse(l) as { bytes: number });
    assert.ok(syncs.length >= 1, builder.logs());
    for (const s of syncs) assert.ok(s.bytes <= 64, `re-uploaded ${s.bytes} bytes after the restart`);

    tmux('send-keys', '-t', 'dev', 'q');
    await until('dev exits on q', () => tmuxSessionGone(tmuxSock, 'dev'), 15_000);
  });

  test('a burst of 100 writes within a second gives exactly one rebuild', async () => {
    const ctx = fixture();
    const dev = devJson(ctx, builder, token, ['-t', `depot-it/dev-burst:${process.pid}`]);
    try {
      await dev.loaded(1);
      const t0 = Date.now();
      for (let i = 0; i < 100; i++) {
        writeFileSync(join(ctx, 'app.txt'), `app burst ${i}\n`);
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(Date.now() - t0 < 1000);
      await dev.loaded(2);
      // Quiet for a while longer: no further build starts.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(dev.count('build/started'), 2, dev.stderr());
      assert.match(runImage(`depot-it/dev-burst:${process.pid}`), /app burst 99/);
    } finally {
      await dev.stop();
    }
  });

  test('an edit during a build cancels it in the engine and runs exactly one new build', async () => {
    const marker = `${400 + (process.pid % 500)}`;
    const ctx = fixture(`RUN if grep -q slow /app.txt; then sleep ${marker}; fi\n`);
    writeFileSync(join(ctx, 'app.txt'), 'app slow\n');
    const sleepers = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8')
              .split('\0')
              .join(' ')
              .startsWith(`sleep ${marker}`);
          } catch {
            return false;
          }
        });
    const dev = devJson(ctx, builder, token, ['-t', `depot-it/dev-cancel:${process.pid}`]);
    try {
      const pids = await until('the slow RUN is running', () => sleepers().length > 0 && sleepers(), 60_000);
      writeFileSync(join(ctx, 'app.txt'), 'app fast\n');
      await until('cancelled', () => dev.count('build/cancelled') >= 1, 30_000);
      // The RUN process of the cancelled build stops in the engine, long before its sleep ends.
      await until('RUN process gone', () => !sleepers().some((p) => pids.includes(p)), 20_000);
      await dev.loaded(1);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(dev.count('build/started'), 2, dev.stderr());
      assert.equal(dev.count('build/cancelled'), 1);
      assert.match(runImage(`depot-it/dev-cancel:${process.pid}`), /app fast/);
    } finally {
      await dev.stop();
    }
  });

  test('--run replaces the container after each good build and keeps it after a failed one', async () => {
    const ctx = fixture();
    const name = `depot-it-run-${process.pid}`;
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM busybox\nCOPY app.txt /app.txt\nRUN test "$(cat /app.txt)" != broken\nCMD ["sh", "-c", "cat /app.txt; sleep 600"]\n`,
    );
    const dev = devJson(ctx, builder, token, [
      '-t',
      `depot-it/dev-run:${process.pid}`,
      '--run',
      `--name ${name}`,
    ]);
    const containerId = () => docker(LAPTOP_ENGINE, ['inspect', '-f', '{{.Id}}', name]).stdout.trim();
    try {
      await until('container started', () => dev.count('container/started') >= 1, 90_000);
      const first = containerId();
      writeFileSync(join(ctx, 'app.txt'), 'app v1\n');
      await until('container replaced', () => dev.count('container/started') >= 2, 60_000);
      const second = containerId();
      assert.notEqual(second, first);
      assert.match(docker(LAPTOP_ENGINE, ['logs', name]).stdout, /app v1/);
      writeFileSync(join(ctx, 'app.txt'), 'broken\n');
      await until('failed build', () => dev.count('build/finished', (e) => e.ok === false) >= 1, 60_000);
      await until('container kept', () => dev.count('container/kept') >= 1, 10_000);
      assert.equal(containerId(), second);
      assert.equal(
        docker(LAPTOP_ENGINE, ['inspect', '-f', '{{.State.Running}}', name]).stdout.trim(),
        'true',
      );
    } finally {
      await dev.stop();
      docker(LAPTOP_ENGINE, ['rm', '-f', name]);
    }
  });

  test('20 edit → image cycles: RSS and open fds stay within 10%', async () => {
    const ctx = fixture();
    const tag = `depot-it/dev-soak:${process.pid}`;
    const dev = devJson(ctx, builder, token, ['-t', tag]);
    const pid = dev.child.pid!;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    try {
      await dev.loaded(1);
      const samples: { rss: number; fds: number }[] = [];
      for (let i = 1; i <= 20; i++) {
        writeFileSync(join(ctx, 'app.txt'), `app cycle ${i}\n`);
        await dev.loaded(i + 1);
        if (i >= 5) samples.push({ rss: rss(), fds: fds() });
      }
      assert.match(runImage(tag), /app cycle 20/);
      // Warm-up cycles excluded: compare the steady state's first and last thirds.
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const early = samples.slice(0, 5);
      const late = samples.slice(-5);
      const rssGrowth = mean(late.map((s) => s.rss)) / mean(early.map((s) => s.rss));
      const fdGrowth = mean(late.map((s) => s.fds)) / mean(early.map((s) => s.fds));
      assert.ok(
        rssGrowth < 1.1,
        `RSS grew ${((rssGrowth - 1) * 100).toFixed(1)}%: ${JSON.stringify(samples)}`,
      );
      assert.ok(fdGrowth < 1.1, `fds grew ${((fdGrowth - 1) * 100).toFixed(1)}%: ${JSON.stringify(samples)}`);
    } finally {
      await dev.stop();
    }
  });
});
