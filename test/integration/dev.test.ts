import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { devOwner } from '../../src/dev/container-runner.js';
import {
  type BuilderProcess,
  DEPOT_BIN,
  depot,
  devOn,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  ROOT,
  skipReason,
  startBuilder,
  tempDir,
  terminalCommand,
  tmuxSessionGone,
  until,
} from './harness.js';

/** Preload that reports live memory after a full GC on SIGUSR2. */
const MEMORY_PROBE = join(ROOT, 'test', 'fixtures', 'memory-probe.mjs');

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
function devJson(
  ctx: string,
  builder: BuilderProcess,
  token: string,
  args: string[] = [],
  node: { args?: string[]; env?: Record<string, string> } = {},
) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...(node.args ?? []), DEPOT_BIN, ...devOn(builder.url, token, 'json'), ...args, ctx],
    {
      env: { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE, ...node.env },
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
    loaded: async (n: number, timeoutMs = 90_000) => {
      try {
        return await until(`load #${n}`, () => count('load/finished') >= n, timeoutMs);
      } catch (err) {
        // What dev did last says why no load came.
        const last = events
          .filter(
            (e) => e.type !== 'vertex/updated' && e.type !== 'status/updated' && e.type !== 'log/appended',
          )
          .slice(-25)
          .map((e) => JSON.stringify(e).slice(0, 300));
        throw new Error(`${(err as Error).message}\n${stderr}\n${last.join('\n')}`);
      }
    },
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

  /** Starts `depot dev ARGS CTX` in a real terminal (tmux session `name`, 100×30). */
  const tmuxDev = (name: string, ctx: string, args: string[]) => {
    const cmd = terminalCommand([...devOn(builder.url, token), ...args, ctx]);
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', cmd);
  };
  /** The pane's text with wrapped lines joined (so a wrapped error reads as one). */
  const paneText = (name: string) => pane(name).replace(/\s+/g, ' ');

  test('in a real terminal: edit → new image, cached steps marked; builder restart → reconnect and resume', async () => {
    const ctx = fixture();
    const tag = `depot-it/dev-tmux:${process.pid}`;
    tmuxDev('dev', ctx, ['-t', tag]);
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

  test('a bad .dockerignore while dev runs: shown on screen, dev goes on, the fix rebuilds', async () => {
    const ctx = fixture();
    const tag = `depot-it/dev-ignore:${process.pid}`;
    tmuxDev('ign', ctx, ['-t', tag]);
    await until(
      'first image',
      () => /#1/.test(pane('ign')) && docker(LAPTOP_ENGINE, ['image', 'inspect', tag]).code === 0,
      90_000,
    );
    writeFileSync(join(ctx, '.dockerignore'), '*.bak\n[\n');
    await until(
      'the error on screen',
      () => /\.dockerignore line 2: bad pattern "\[":/.test(paneText('ign')),
      15_000,
    );
    // An edit while the file is bad builds nothing; the session is alive.
    writeFileSync(join(ctx, 'app.txt'), 'app v1\n');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(tmuxSessionGone(tmuxSock, 'ign'), false, 'dev still runs');
    assert.doesNotMatch(runImage(tag), /app v1/);
    assert.match(paneText('ign'), /fix or remove the line/);
    // The fix alone brings the rebuild, with the edit made meanwhile.
    writeFileSync(join(ctx, '.dockerignore'), '*.bak\n');
    await until('image after the fix', () => runImage(tag).includes('app v1'), 60_000);
    await until('error gone from the screen', () => !/bad pattern/.test(paneText('ign')), 10_000);
    tmux('send-keys', '-t', 'ign', 'q');
    await until('dev exits on q', () => tmuxSessionGone(tmuxSock, 'ign'), 15_000);
  });

  test('dev started with a bad .dockerignore says so (json), waits, and builds once it is fixed', async () => {
    const ctx = fixture();
    writeFileSync(join(ctx, '.dockerignore'), '!\n');
    const tag = `depot-it/dev-ignore-start:${process.pid}`;
    const dev = devJson(ctx, builder, token, ['-t', tag]);
    try {
      await until(
        `ignore/failed\n${dev.stderr()}`,
        () => dev.count('ignore/failed', (e) => /line 1: bad pattern "!"/.test(String(e.error))) >= 1,
        30_000,
      );
      await until('the sync failure', () => dev.count('sync/failed') >= 1, 30_000);
      assert.equal(dev.child.exitCode, null, 'dev keeps running');
      assert.equal(dev.count('build/started'), 0);
      writeFileSync(join(ctx, '.dockerignore'), '*.bak\n');
      await dev.loaded(1);
      assert.equal(dev.count('ignore/fixed'), 1);
      assert.match(runImage(tag), /app v0/);
    } finally {
      await dev.stop();
    }
  });

  test('depot build and depot context ls with a bad .dockerignore: exit 1, one line naming file and line', async () => {
    const ctx = fixture();
    writeFileSync(join(ctx, '.dockerignore'), '# ok\n*.bak\n[\n');
    const want = new RegExp(
      `^depot: ${join(ctx, '.dockerignore').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 3: bad pattern "\\[": .+ \\(fix or remove the line\\)\\n$`,
    );
    const ls = await depot(['context', 'ls', ctx]);
    assert.equal(ls.code, 1, ls.stderr);
    assert.match(ls.stderr, want);
    const build = await depot(['build', '--builder', builder.url, '--token', token, ctx]);
    assert.equal(build.code, 1, build.stderr);
    assert.match(build.stderr, want);
    // Run from the context directory, the file is named as the user knows it.
    const here = spawnSync(process.execPath, [DEPOT_BIN, 'context', 'ls', '.'], {
      cwd: ctx,
      env: { ...process.env, ...isolatedEnv() },
      encoding: 'utf8',
    });
    assert.equal(here.status, 1);
    assert.match(here.stderr, /^depot: \.dockerignore line 3: bad pattern "\[":/);
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

  test('--run owns its container: Ctrl-C and q remove it, a restart replaces leftovers, errors are whole', async () => {
    const ctx = fixture();
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nCOPY app.txt /www/index.html\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
    );
    const tag = `depot-it/dev-own:${process.pid}`;
    const port = 20_000 + (process.pid % 20_000);
    const runArgs = ['-t', tag, '--run', `-p ${port}:80`];
    const owner = devOwner(realpathSync(ctx), '', [tag]);
    /** This session identity's containers (any state) as `id state`. */
    const ours = () =>
      docker(LAPTOP_ENGINE, [
        'ps',
        '-a',
        '--filter',
        `label=dev.depot.owner=${owner}`,
        '--format',
        '{{.ID}} {{.State}}',
      ])
        .stdout.trim()
        .split('\n')
        .filter((l) => l !== '');
    const get = () =>
      spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${port}/`], { encoding: 'utf8' }).stdout ?? '';
    const blocker = `depot-it-blocker-${process.pid}`;
    try {
      tmuxDev('own', ctx, runArgs);
      await until('served', () => get().includes('app v0'), 90_000);
      await until('served by the dev container', () => ours().length === 1 && ours()[0]!.endsWith('running'));
      tmux('send-keys', '-t', 'own', 'C-c');
      await until('dev exits on Ctrl-C', () => tmuxSessionGone(tmuxSock, 'own'), 20_000);
      assert.deepEqual(ours(), [], 'Ctrl-C removes the container');

      // A session killed outright leaves its container; the next one replaces it (same port).
      writeFileSync(join(ctx, 'app.txt'), 'app v1\n');
      const killed = devJson(ctx, builder, token, runArgs);
      await until('first container', () => killed.count('container/started') >= 1, 90_000);
      killed.child.kill('SIGKILL');
      await new Promise((r) => killed.child.once('exit', r));
      assert.equal(ours().length, 1, 'left behind by the killed session');
      writeFileSync(join(ctx, 'app.txt'), 'app v2\n');
      tmuxDev('own2', ctx, runArgs);
      await until(`the new container serves${pane('own2')}`, () => get().includes('app v2'), 90_000);
      await until('one running container', () => ours().length === 1 && ours()[0]!.endsWith('running'));
      tmux('send-keys', '-t', 'own2', 'q');
      await until(`dev exits on q${pane('own2')}`, () => tmuxSessionGone(tmuxSock, 'own2'), 20_000);
      assert.deepEqual(ours(), [], 'q removes the container');

      // Someone else holds the port: the error is whole, and no Created container stays.
      const b = docker(LAPTOP_ENGINE, [
        'run',
        '-d',
        '--name',
        blocker,
        '-p',
        `${port}:80`,
        'busybox',
        'sleep',
        '300',
      ]);
      assert.equal(b.code, 0, b.stderr);
      const dev = devJson(ctx, builder, token, runArgs);
      try {
        const failed = await until(
          'container failed',
          () => dev.events.find((e) => e.type === 'container/failed'),
          90_000,
        );
        assert.match(String(failed.error), /port is already allocated/);
        assert.deepEqual(ours(), [], 'no Created container left');
      } finally {
        await dev.stop();
      }
    } finally {
      spawnSync('tmux', ['-L', tmuxSock, 'kill-session', '-t', 'own']);
      spawnSync('tmux', ['-L', tmuxSock, 'kill-session', '-t', 'own2']);
      docker(LAPTOP_ENGINE, ['rm', '-f', blocker]);
      for (const l of ours()) docker(LAPTOP_ENGINE, ['rm', '-f', l.split(' ')[0]!]);
    }
  });

  test('28 edit → image cycles: live memory and open fds stay within 10% after warm-up', async () => {
    const ctx = fixture();
    const tag = `depot-it/dev-soak:${process.pid}`;
    const memLog = join(tempDir('dev-soak'), 'memory.jsonl');
    writeFileSync(memLog, '');
    // Sampled after a full collection (the probe's SIGUSR2): raw RSS between collections is
    // mostly garbage whose amount depends on when V8's major GCs fall, which moves with the
    // bundle's chunk layout and the machine's load; what the client keeps is what leaks.
    const dev = devJson(ctx, builder, token, ['-t', tag], {
      args: ['--expose-gc', '--import', MEMORY_PROBE],
      env: { DEPOT_TEST_MEMORY_LOG: memLog },
    });
    const pid = dev.child.pid!;
    const fds = () => readdirSync(`/proc/${pid}/fd`).length;
    const logged = () => readFileSync(memLog, 'utf8').split('\n').filter(Boolean);
    const live = async () => {
      const n = logged().length;
      dev.child.kill('SIGUSR2');
      await until('memory sample', () => logged().length > n, 30_000);
      return JSON.parse(logged()[n]!) as { rss: number; heapUsed: number; external: number };
    };
    try {
      await dev.loaded(1);
      const samples: { rss: number; heap: number; fds: number }[] = [];
      // Code compiled and caches filled by the first dozen cycles are kept for good: growth
      // after that is a leak.
      for (let i = 1; i <= 28; i++) {
        writeFileSync(join(ctx, 'app.txt'), `app cycle ${i}\n`);
        await dev.loaded(i + 1);
        if (i >= 13) {
          const m = await live();
          samples.push({ rss: m.rss, heap: m.heapUsed + m.external, fds: fds() });
        }
      }
      assert.match(runImage(tag), /app cycle 28/);
      // The steady state's first and last halves, each by its low point (allocator noise).
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const early = samples.slice(0, 8);
      const late = samples.slice(-8);
      const low = (xs: typeof samples, k: 'rss' | 'heap') => Math.min(...xs.map((s) => s[k]));
      const show = JSON.stringify(samples);
      const heapGrowth = low(late, 'heap') / low(early, 'heap');
      const rssGrowth = low(late, 'rss') / low(early, 'rss');
      const fdGrowth = mean(late.map((s) => s.fds)) / mean(early.map((s) => s.fds));
      assert.ok(heapGrowth < 1.1, `live heap grew ${((heapGrowth - 1) * 100).toFixed(1)}%: ${show}`);
      assert.ok(rssGrowth < 1.1, `RSS after a full GC grew ${((rssGrowth - 1) * 100).toFixed(1)}%: ${show}`);
      assert.ok(fdGrowth < 1.1, `fds grew ${((fdGrowth - 1) * 100).toFixed(1)}%: ${show}`);
    } finally {
      await dev.stop();
    }
  });
});
