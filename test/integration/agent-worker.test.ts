/**
 * `depot build` run by the agent's warm worker against a real builder: the command sees the
 * client's arguments, directory, environment, umask and terminal; its stdout reaches a pipe byte
 * for byte (a slow reader included), its errors and exit status are the in-process ones, Ctrl-C
 * cancels it, and in a real terminal (tmux) the live view draws in colour.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
  tmuxSessionGone,
  until,
} from './harness.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = skipReason();

describe("the agent's warm worker", { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const agentDir = tempDir('worker-agent');
  const tmuxSock = `depot-worker-${process.pid}`;
  const env = () => ({
    ...isolatedEnv(),
    DOCKER_HOST: BUILDER_ENGINE,
    DEPOT_AGENT: '1',
    DEPOT_AGENT_DIR: agentDir,
  });
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    run(process.execPath, [DEPOT_BIN, ...args], { ...env(), ...extra });
  const on = () => ['--builder', builder.url, '--token', token, '--project', 'worker'];
  const status = async () => {
    const r = await cli(['agent', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { running: boolean; runs?: number; worker?: string };
  };
  /** Waits for a warm worker, and returns how many builds workers ran so far. */
  const workerReady = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await status();
      if (s.worker === 'ready') return s.runs ?? 0;
      if (Date.now() > deadline) throw new Error(`no warm worker: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const context = (dockerfile: string) => {
    const ctx = tempDir('worker-ctx');
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    writeFileSync(join(ctx, 'a.txt'), `a ${process.pid}\n`);
    return ctx;
  };

  before(async () => {
    builder = await startBuilder();
    token = builder.token('worker');
    // The first build runs in process and starts the agent, which warms a worker.
    const r = await cli(['build', ...on(), '--progress', 'quiet', context('FROM busybox\n')]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    spawnSync('tmux', ['-L', tmuxSock, 'kill-server']);
    await cli(['agent', 'stop']);
    await builder?.stop();
  });

  test("the build runs in the client's directory, environment and umask; -q prints the id alone", async () => {
    const ctx = context('FROM busybox\nCOPY a.txt /a.txt\n');
    const sub = join(tempDir('worker-cwd'), 'sub');
    mkdirSync(sub);
    const runs = await workerReady();
    // The builder and token from the environment only, relative paths, a umask of the client's own.
    const r = await run(
      '/bin/sh',
      [
        '-c',
        `umask 077 && cd '${sub}' && exec '${process.execPath}' '${DEPOT_BIN}' build -q --metadata-file meta.json '${ctx}'`,
      ],
      { ...env(), DEPOT_BUILDER: builder.url, DEPOT_TOKEN: token, DEPOT_PROJECT: 'worker' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await status()).runs, runs + 1, 'the warm worker ran the build');
    const meta = readFileSync(join(sub, 'meta.json'), 'utf8');
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/, 'stdout is the image id and nothing else');
    assert.ok(meta.includes(r.stdout.trim()), meta);
    assert.equal(statSync(join(sub, 'meta.json')).mode & 0o777, 0o600, "the client's umask applies");
  });

  test('a failing build: the in-process error line and exit status; a wrong flag likewise', async () => {
    const ctx = context('FROM busybox\nRUN exit 3\n');
    const runs = await workerReady();
    const viaWorker = await cli(['build', ...on(), '--progress', 'plain', ctx]);
    assert.equal((await status()).runs, runs + 1, 'the warm worker ran the build');
    const inProcess = await cli(['build', ...on(), '--progress', 'plain', '--no-agent', ctx]);
    assert.equal(viaWorker.code, 1);
    assert.equal(inProcess.code, 1);
    const lastLine = (s: string) => s.trimEnd().split('\n').at(-1);
    assert.equal(lastLine(viaWorker.stderr), lastLine(inProcess.stderr));
    assert.match(lastLine(viaWorker.stderr) ?? '', /^depot: /);

    await workerReady();
    const bad = await cli(['build', ...on(), '--progress', 'sideways', ctx]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /sideways/);
  });

  test('a slow reader gets every byte, then the exit status', async () => {
    const ctx = context(`FROM busybox\nRUN for i in $(seq 1 3000); do echo "line $i ${Date.now()}"; done\n`);
    const runs = await workerReady();
    const child = spawn(process.execPath, [DEPOT_BIN, 'build', ...on(), '--progress', 'json', ctx], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    child.stderr.on('data', (d) => (err += d));
    // Listeners first: Node resumes (and drains) a child's stream that has none when the child exits.
    const closed = new Promise<number | null>((r) => child.on('close', r));
    child.stdout.on('data', (d) => (out += d));
    // Nobody reads for a while: the output backs up into the pipe and the worker's socket.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1500));
    child.stdout.resume();
    const code = await closed;
    assert.equal(code, 0, err);
    assert.equal((await status()).runs, runs + 1);
    const lines = out.trimEnd().split('\n');
    for (const l of lines) JSON.parse(l);
    assert.match(lines.at(-1) ?? '', /"type":"build\/finished"/);
    assert.ok(out.includes('line 3000 '), 'the last log line arrived');
  });

  test('Ctrl-C cancels the build in the worker: one line, exit 130', async () => {
    const ctx = context(`FROM busybox\nRUN sleep 60 && echo ${Date.now()}\n`);
    const runs = await workerReady();
    const child = spawn(process.execPath, [DEPOT_BIN, 'build', ...on(), '--progress', 'json', ctx], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    const sleeping = () =>
      out.split('\n').some((l) => {
        if (!l.startsWith('{"type":"vertex/updated"')) return false;
        const v = (JSON.parse(l) as { vertex: { name?: string; startedMs?: number } }).vertex;
        return Boolean(v.name?.includes('sleep 60') && v.startedMs);
      });
    await until('the sleep step runs', sleeping, 60_000);
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await closed;
    assert.equal(code, 130, err);
    assert.match(err, /depot: cancelled/);
    assert.ok(Date.now() - t0 < 20_000, 'cancelled well before the step would end');
    assert.equal((await status()).runs, runs + 1);
  });

  test('in a real terminal the live view draws in colour', {
    skip: hasTmux ? undefined : 'no tmux',
  }, async () => {
    const ctx = context('FROM busybox\nCOPY a.txt /b.txt\n');
    const runs = await workerReady();
    const { CI: _ci, ...base }: Record<string, string> = env();
    const vars = Object.entries(base)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const done = join(tempDir('worker-tty'), 'done');
    const cmd = `env -u CI -u CONTINUOUS_INTEGRATION ${vars} ${process.execPath} ${DEPOT_BIN} build ${on().join(' ')} ${ctx}; echo $? > ${done}; sleep 30`;
    execFileSync('tmux', ['-L', tmuxSock, 'new-session', '-d', '-s', 'tty', '-x', '100', '-y', '30', cmd]);
    const code = await until('the build ends', () => {
      try {
        return readFileSync(done, 'utf8').trim();
      } catch {
        return undefined;
      }
    });
    assert.equal(code, '0');
    const pane = execFileSync('tmux', ['-L', tmuxSock, 'capture-pane', '-e', '-p', '-t', 'tty'], {
      encoding: 'utf8',
    });
    assert.match(pane, /✔.* image sha256:[0-9a-f]{12}/, pane);
    // Ink's colours: green for the tick, which it draws only when it saw a colour terminal.
    assert.match(pane, /\x1b\[32m✔/, JSON.stringify(pane));
    assert.equal((await status()).runs, runs + 1);
    execFileSync('tmux', ['-L', tmuxSock, 'kill-session', '-t', 'tty']);
    assert.ok(tmuxSessionGone(tmuxSock, 'tty'));
  });
});
