/**
 * `depot dev` through the local agent, against a real builder, a real agent process and the real
 * laptop engine: several sessions on one context share the agent's one watcher (and an edit
 * rebuilds every one of them); an agent that goes away mid-session leaves the session working in
 * process; the agent's watch stream stays bounded however many changes or subscribers come.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_WATCH_PATHS, MAX_WATCH_SUBSCRIBERS } from '../../src/agent/protocol.js';
import {
  type BuilderProcess,
  DEPOT_BIN,
  devOn,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  run,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from './harness.js';

const skip = skipReason();

type DevEvent = Record<string, unknown> & { type: string };

function fixture(): string {
  const ctx = tempDir('dev-agent');
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n');
  writeFileSync(join(ctx, 'app.txt'), `v0 ${process.pid} ${Date.now()}\n`);
  return ctx;
}

describe('depot dev through the local agent', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const children: ChildProcess[] = [];
  const agentDirs: string[] = [];

  const env = (agentDir: string) => ({
    ...isolatedEnv(),
    DOCKER_HOST: LAPTOP_ENGINE,
    DEPOT_AGENT: '1',
    DEPOT_AGENT_DIR: agentDir,
  });
  const cli = (agentDir: string, args: string[]) =>
    run(process.execPath, [DEPOT_BIN, ...args], env(agentDir));
  const newAgentDir = () => {
    const d = tempDir('dev-agent-dir');
    agentDirs.push(d);
    return d;
  };

  /** `depot dev --progress json` with the agent wanted; its events as they arrive. */
  const dev = (ctx: string, agentDir: string, tag: string) => {
    const child = spawn(process.execPath, [DEPOT_BIN, ...devOn(builder.url, token, 'json'), '-t', tag, ctx], {
      env: { ...process.env, ...env(agentDir) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const events: DevEvent[] = [];
    let buf = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) events.push(JSON.parse(line) as DevEvent);
      }
    });
    child.stderr!.on('data', (d) => (stderr += d));
    const why = () =>
      `${stderr}\n${events
        .filter((e) => !['vertex/updated', 'status/updated', 'log/appended'].includes(e.type))
        .slice(-20)
        .map((e) => JSON.stringify(e).slice(0, 300))
        .join('\n')}`;
    return {
      events,
      /** Waits for a loaded build that a change of `path` triggered. */
      async rebuiltFor(path: string, timeoutMs = 30_000) {
        try {
          await until(
            `a build for ${path} loaded`,
            () => {
              const started = events.findLastIndex(
                (e) =>
                  e.type === 'build/started' &&
                  ((e.trigger as { paths: string[] }).paths ?? []).includes(path),
              );
              return started >= 0 && events.slice(started).some((e) => e.type === 'load/finished');
            },
            timeoutMs,
          );
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${why()}`);
        }
      },
      async loaded(timeoutMs = 30_000) {
        try {
          await until('the first load', () => events.some((e) => e.type === 'load/finished'), timeoutMs);
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${why()}`);
        }
      },
      async stop() {
        if (child.exitCode !== null) return;
        child.kill('SIGINT');
        await new Promise((r) => child.once('exit', r));
      },
    };
  };

  const image = (tag: string) => {
    const r = docker(LAPTOP_ENGINE, ['run', '--rm', tag]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  const status = async (agentDir: string) => {
    const r = await cli(agentDir, ['agent', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      running: boolean;
      watchers?: Array<{ contextDir: string; live: boolean; subscribers: number }>;
      contexts?: Array<{ contextDir: string }>;
    };
  };

  before(async () => {
    builder = await startBuilder();
    token = builder.token('dev-agent');
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of agentDirs) await cli(d, ['agent', 'stop']);
    await builder?.stop();
  });

  test('two sessions on one context share the agent’s one watcher, and an edit rebuilds both', async () => {
    const agentDir = newAgentDir();
    const ctx = fixture();
    const a = dev(ctx, agentDir, 'dev-agent-a:dev');
    const b = dev(ctx, agentDir, 'dev-agent-b:dev');
    try {
      await Promise.all([a.loaded(), b.loaded()]);
      for (const s of [a, b])
        assert.ok(
          s.events.some((e) => e.type === 'watch/started' && e.shared === true),
          'the session watches through the agent',
        );

      // One watcher in the agent, fed to both sessions; one scan of the context.
      const st = await until('both sessions subscribed', async () => {
        const s = await status(agentDir);
        return s.watchers?.[0]?.subscribers === 2 ? s : undefined;
      });
      assert.equal(st.running, true);
      assert.equal(st.watchers!.length, 1, JSON.stringify(st.watchers));
      assert.equal(st.watchers![0]!.live, true);
      assert.equal(st.contexts!.length, 1, JSON.stringify(st.contexts));

      writeFileSync(join(ctx, 'app.txt'), 'v1\n');
      await Promise.all([a.rebuiltFor('app.txt'), b.rebuiltFor('app.txt')]);
      assert.equal(image('dev-agent-a:dev'), 'v1\n');
      assert.equal(image('dev-agent-b:dev'), 'v1\n');
      assert.ok(
        ![...a.events, ...b.events].some((e) => e.type === 'agent/unavailable'),
        'the agent served both sessions throughout',
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    // The sessions are gone: so are their subscriptions.
    await until('subscriptions closed', async () => {
      const s = await status(agentDir);
      return (s.watchers ?? []).every((w) => w.subscribers === 0);
    });
  });

  test('an agent stopped during a session: the session says so once and the next edit still rebuilds', async () => {
    const agentDir = newAgentDir();
    const ctx = fixture();
    const a = dev(ctx, agentDir, 'dev-agent-fallback:dev');
    try {
      await a.loaded();
      assert.ok(a.events.some((e) => e.type === 'watch/started' && e.shared === true));
      const r = await cli(agentDir, ['agent', 'stop']);
      assert.equal(r.code, 0, r.stderr);
      await until('the session noticed', () => a.events.some((e) => e.type === 'agent/unavailable'), 10_000);
      // Its own watcher is live once it asks for a full rescan (what changed meanwhile is unknown).
      await until(
        'the in-process watcher',
        () =>
          a.events.some(
            (e) =>
              e.type === 'watch/changed' &&
              (e.paths as string[]).length === 1 &&
              (e.paths as string[])[0] === '.',
          ),
        10_000,
      );

      writeFileSync(join(ctx, 'app.txt'), 'v2\n');
      await a.rebuiltFor('app.txt');
      assert.equal(image('dev-agent-fallback:dev'), 'v2\n');
      // And again: the in-process watcher goes on.
      writeFileSync(join(ctx, 'app.txt'), 'v3\n');
      await until('a second rebuild', () =>
        a.events.filter((e) => e.type === 'load/finished').length >= 3 ? true : undefined,
      );
      await until('v3 loaded', () => image('dev-agent-fallback:dev') === 'v3\n');
      assert.equal(a.events.filter((e) => e.type === 'agent/unavailable').length, 1, 'said once');
      assert.equal((await status(agentDir)).running, false, 'no agent was started behind the user’s back');
    } finally {
      await a.stop();
    }
  });

  test('the watch stream is bounded: coalesced messages, a cap on subscribers', async () => {
    const agentDir = newAgentDir();
    const ctx = fixture();
    const sockPath = join(agentDir, 'agent.sock');
    // Files the watcher watches from its start: each write of them is an event of its own.
    const n = MAX_WATCH_PATHS * 3;
    mkdirSync(join(ctx, 'many'));
    for (let i = 0; i < n; i++) writeFileSync(join(ctx, 'many', `f${i}.txt`), String(i));
    const agent = spawn(process.execPath, [DEPOT_BIN, 'agent', 'run'], {
      env: { ...process.env, ...env(agentDir) },
      stdio: 'ignore',
    });
    children.push(agent);
    await until('the agent runs', async () => (await status(agentDir)).running, 10_000);

    const subscribe = () => {
      const sock: Socket = connect(sockPath);
      const lines: Record<string, unknown>[] = [];
      let buf = '';
      sock.on('data', (d) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          buf = buf.slice(nl + 1);
        }
      });
      sock.on('error', () => {});
      sock.write(
        `${JSON.stringify({ op: 'watch', contextDir: ctx, dockerfile: join(ctx, 'Dockerfile') })}\n`,
      );
      return { sock, lines };
    };
    const subs = Array.from({ length: MAX_WATCH_SUBSCRIBERS }, subscribe);
    try {
      await until(
        'every subscriber is watching',
        () => subs.every((s) => s.lines.some((l) => 'watching' in l)),
        10_000,
      );
      const extra = subscribe();
      subs.push(extra);
      await until('the one too many is refused', () => extra.lines.some((l) => 'error' in l));
      assert.equal((extra.lines[0]!.error as { code: string }).code, 'agent_busy');

      // A burst of writes: each message carries at most MAX_WATCH_PATHS paths, all arrive.
      for (let i = 0; i < n; i++) writeFileSync(join(ctx, 'many', `f${i}.txt`), `${i} edited`);
      const first = subs[0]!;
      const seen = () => {
        const paths = new Set<string>();
        for (const l of first.lines)
          if ('changed' in l) for (const p of (l.changed as { paths: string[] }).paths) paths.add(p);
        return paths;
      };
      await until(
        'every edited file reported',
        () => [...Array(n).keys()].every((i) => seen().has(`many/f${i}.txt`)),
        15_000,
      );
      assert.ok(!first.lines.some((l) => 'rescan' in l), 'a burst this size needs no rescan');
      for (const l of first.lines)
        if ('changed' in l) assert.ok((l.changed as { paths: string[] }).paths.length <= MAX_WATCH_PATHS);
      assert.ok(
        first.lines.filter((l) => 'changed' in l).length >= 3,
        'the burst came in several bounded messages',
      );
      const st = await status(agentDir);
      assert.equal(st.watchers?.length, 1);
      assert.equal(st.watchers?.[0]?.subscribers, MAX_WATCH_SUBSCRIBERS);
    } finally {
      for (const s of subs) s.sock.destroy();
    }
  });
});
