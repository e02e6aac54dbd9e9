/**
 * The local agent against a real builder: started on demand by `depot build`, shared, stopped,
 * gone when idle, never two at once — and never a stale context: after every kind of change an
 * editor, a shell or git makes (content, size, mode, rename, delete, symlink retarget, a file
 * becoming a directory, an atomic save, a new tree, a .dockerignore edit), a build issued at once
 * syncs exactly the snapshot a fresh walk (`depot context ls --id`) gives at that moment.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  DEPOT_BIN,
  isolatedEnv,
  run,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

describe('the local agent', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  // An agent of this file's own: its directory is private to these tests.
  const agentDir = tempDir('agent-dir');
  const env = () => ({
    ...isolatedEnv(),
    DOCKER_HOST: BUILDER_ENGINE,
    DEPOT_AGENT: '1',
    DEPOT_AGENT_DIR: agentDir,
  });
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    run(process.execPath, [DEPOT_BIN, ...args], { ...env(), ...extra });
  const build = async (ctx: string) => {
    const r = await cli([
      'build',
      '--builder',
      builder.url,
      '--token',
      token,
      '--project',
      'agent',
      '--progress',
      'json',
      ctx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const acked = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"type":"sync/acked"'))
      .map((l) => JSON.parse(l) as { snapshotId: string; entries: number; blobsSent: number });
    assert.equal(acked.length, 1, r.stdout);
    return acked[0]!;
  };
  const status = async () => {
    const r = await cli(['agent', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      running: boolean;
      pid?: number;
      contexts?: Array<{
        contextDir: string;
        scans: { reused: number; updated: number; walked: number };
        presyncs: number;
      }>;
    };
  };

  before(async () => {
    builder = await startBuilder();
    token = builder.token('agent');
  });
  after(async () => {
    await cli(['agent', 'stop']);
    await builder?.stop();
  });

  test('a build starts it; status shows the context; stop ends it; it never runs twice', async () => {
    const ctx = tempDir('agent-life');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx\n');
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    assert.equal((await status()).running, false);
    await build(ctx);
    const s = await status();
    assert.equal(s.running, true);
    assert.equal(s.contexts?.[0]?.scans.walked, 1);
    await build(ctx);
    assert.equal((await status()).contexts?.[0]?.scans.reused, 1);

    // A second agent started by hand leaves at once, saying so; the first keeps running.
    const second = await cli(['agent', 'run']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /already running/);
    assert.equal((await status()).pid, s.pid);

    const stop = await cli(['agent', 'stop']);
    assert.match(stop.stdout, /stopped/);
    assert.equal((await status()).running, false);
    assert.equal(existsSync(join(agentDir, 'agent.sock')), false);
  });

  test('an edit after a build is synced in the background: the next build sends nothing', async () => {
    const ctx = tempDir('agent-presync');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx\n');
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    await build(ctx);
    writeFileSync(join(ctx, 'a.txt'), `edited ${Date.now()}\n`);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const c = (await status()).contexts?.find((x) => x.contextDir === ctx);
      if ((c?.presyncs ?? 0) >= 1) break;
      assert.ok(Date.now() < deadline, 'no pre-sync after the edit');
      await new Promise((r) => setTimeout(r, 50));
    }
    const acked = await build(ctx);
    assert.equal(acked.blobsSent, 0, 'the edit was uploaded again');
    const fresh = await cli(['context', 'ls', '--id', ctx]);
    assert.equal(acked.snapshotId, fresh.stdout.trim());
  });

  test('it exits after its idle period', async () => {
    await cli(['agent', 'stop']);
    const child = spawn(process.execPath, [DEPOT_BIN, 'agent', 'run'], {
      env: { ...process.env, ...env(), DEPOT_AGENT_IDLE_MS: '2500' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 5000;
    while (!(await status()).running) {
      assert.ok(Date.now() < deadline, 'the agent did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const asked = Date.now();
    assert.equal(await exited, 0);
    // Not before its idle period (from the last request), and not long after.
    const waited = Date.now() - asked;
    assert.ok(waited > 1500 && waited < 10_000, `exited ${waited} ms after the last request`);
    assert.equal((await status()).running, false);
  });

  test('never a stale context: every change, then a build at once, syncs what a fresh walk sees', async () => {
    const ctx = tempDir('agent-stale');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx\n');
    mkdirSync(join(ctx, 'src', 'lib'), { recursive: true });
    writeFileSync(join(ctx, 'src', 'a.js'), 'aaaa\n');
    writeFileSync(join(ctx, 'src', 'lib', 'b.js'), 'b\n');
    writeFileSync(join(ctx, 'target1.txt'), 'one\n');
    writeFileSync(join(ctx, 'target2.txt'), 'two\n');
    symlinkSync('target1.txt', join(ctx, 'link'));
    writeFileSync(join(ctx, 'becomes-dir'), 'file\n');
    writeFileSync(join(ctx, 'gone.txt'), 'gone\n');
    mkdirSync(join(ctx, 'old-dir'));
    writeFileSync(join(ctx, 'old-dir', 'x'), 'x\n');
    await build(ctx);

    const changes: Array<[string, () => void]> = [
      ['same-size rewrite', () => writeFileSync(join(ctx, 'src', 'a.js'), 'bbbb\n')],
      ['append', () => writeFileSync(join(ctx, 'src', 'a.js'), 'bbbb\nmore\n')],
      ['rename', () => renameSync(join(ctx, 'src', 'lib', 'b.js'), join(ctx, 'src', 'lib', 'c.js'))],
      ['delete', () => rmSync(join(ctx, 'gone.txt'))],
      ['mode', () => chmodSync(join(ctx, 'src', 'a.js'), 0o755)],
      [
        'symlink retarget',
        () => {
          rmSync(join(ctx, 'link'));
          symlinkSync('target2.txt', join(ctx, 'link'));
        },
      ],
      [
        'file becomes a directory',
        () => {
          rmSync(join(ctx, 'becomes-dir'));
          mkdirSync(join(ctx, 'becomes-dir'));
          writeFileSync(join(ctx, 'becomes-dir', 'inside'), 'in\n');
        },
      ],
      [
        'atomic save (write a temp file, rename over)',
        () => {
          writeFileSync(join(ctx, 'src', '.a.js.tmp1234'), 'saved atomically\n');
          renameSync(join(ctx, 'src', '.a.js.tmp1234'), join(ctx, 'src', 'a.js'));
        },
      ],
      [
        'a new tree in one go',
        () => {
          mkdirSync(join(ctx, 'new', 'deep', 'er'), { recursive: true });
          writeFileSync(join(ctx, 'new', 'deep', 'er', 'f.txt'), 'fresh\n');
        },
      ],
      ['directory renamed', () => renameSync(join(ctx, 'old-dir'), join(ctx, 'moved-dir'))],
      ['directory deleted', () => rmSync(join(ctx, 'new'), { recursive: true })],
      ['.dockerignore added', () => writeFileSync(join(ctx, '.dockerignore'), 'src/lib\n')],
      ['.dockerignore edited', () => writeFileSync(join(ctx, '.dockerignore'), 'moved-dir\n')],
      [
        'a burst of edits',
        () => {
          for (let i = 0; i < 50; i++) writeFileSync(join(ctx, `burst-${i % 7}.txt`), `${i}\n`);
          rmSync(join(ctx, 'burst-3.txt'));
        },
      ],
    ];
    for (const [what, change] of changes) {
      change();
      const acked = await build(ctx);
      const fresh = await cli(['context', 'ls', '--id', ctx]);
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.equal(acked.snapshotId, fresh.stdout.trim(), `after "${what}" the agent synced a stale context`);
    }
    // And the agent answered from its watcher, not by walking the tree each time.
    const c = (await status()).contexts?.find((x) => x.contextDir === ctx);
    assert.ok(c, 'the agent does not keep the context');
    // Walked at its first build and after each ignore-rule change; every other answer came from
    // the watcher (pre-syncs in the background may have taken some of the updates).
    assert.ok(c.scans.walked <= 4, JSON.stringify(c));
    assert.ok(c.scans.updated + c.scans.reused + c.presyncs >= 10, JSON.stringify(c));
  });
});
