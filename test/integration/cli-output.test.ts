/**
 * How the CLI ends: every byte of output reaches a pipe whose reader is slow, Ctrl-C and a
 * stopped builder each end a build with their own line and exit code, usage errors are one line.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  depot,
  docker,
  isolatedEnv,
  LAPTOP_ENGINE,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from './harness.js';

const skip = skipReason();
const notBuilt = existsSync(DEPOT_BIN) ? undefined : 'not built: run npm run build';

interface Piped {
  code: number;
  out: string;
  stderr: string;
}

/**
 * Runs the CLI with stdout (and with `merge`, stderr too: `2>&1`) into a pipe that nobody reads
 * until `ready` holds (the command has done its work and written its output) and then for one
 * more second, unless the CLI exits first; then reads everything. A pipe holds 64 KiB: the CLI
 * must wait for this reader rather than exit with its output half-delivered.
 */
async function throughSlowReader(
  args: string[],
  opts: { env?: Record<string, string>; merge?: boolean; ready: (child: ChildProcess) => boolean },
): Promise<Piped> {
  const env = { ...process.env, ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE, ...opts.env };
  const child = opts.merge
    ? spawn('/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, DEPOT_BIN, ...args], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, [DEPOT_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const closed = new Promise((r) => child.once('close', r));
  await until('the command to write its output', () => opts.ready(child) || child.exitCode !== null, 120_000);
  // The slow reader's nap: a CLI that exits without waiting for it loses what the pipe could not hold.
  await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const code = await exited;
  await closed;
  return { code, out: Buffer.concat(chunks).toString('utf8'), stderr };
}

/** A context of `n` files with long names: its listing runs over 1 MiB. */
function bigContext(n: number): string {
  const dir = tempDir('bigctx');
  const long = 'a-rather-long-directory-name-so-that-every-line-of-the-listing-is-long'.repeat(2);
  for (let d = 0; d < n / 500; d++) {
    const sub = join(dir, `${long}-${d}`);
    mkdirSync(sub);
    for (let f = 0; f < 500; f++)
      writeFileSync(join(sub, `file-with-a-long-name-as-well-${f}.txt`), `${f}\n`);
  }
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\n');
  return dir;
}

const ONE_MIB = 1024 * 1024;

describe('output through a pipe to a slow reader', { skip: notBuilt }, () => {
  const ctx = bigContext(6000);

  test('depot context ls --json: over 1 MiB of JSON, parsed whole', async () => {
    const r = await throughSlowReader(['context', 'ls', '--json', ctx], {
      // context ls writes its output in one go: once the pipe has data, it is all written.
      ready: (c) => c.stdout!.readableLength > 0,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.out.length > ONE_MIB, `only ${r.out.length} bytes`);
    const list = JSON.parse(r.out) as Array<{ path: string }>;
    assert.equal(list.filter((e) => e.path.endsWith('.txt')).length, 6000);
  });

  test('depot context ls: every line', async () => {
    const r = await throughSlowReader(['context', 'ls', ctx], {
      ready: (c) => c.stdout!.readableLength > 0,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.out.length > ONE_MIB, `only ${r.out.length} bytes`);
    const lines = r.out.split('\n');
    assert.equal(lines.pop(), '', 'the output ends with a newline');
    // 6000 files, 12 directories, the Dockerfile, then the totals line.
    assert.match(lines.pop()!, /^total: 6013 entries, 6001 files, /);
    assert.equal(lines.length, 6013);
  });
});

/** A Dockerfile whose six parallel stages each log ~200 KiB (BuildKit's rate limit per step). */
function chattyContext(): string {
  const ctx = tempDir('chatty');
  const nonce = randomBytes(6).toString('hex');
  let df = '';
  for (let i = 1; i <= 6; i++) df += `FROM busybox AS s${i}\nRUN echo ${nonce}-${i} > /n && seq 1 60000\n`;
  df += 'FROM busybox\n';
  for (let i = 1; i <= 6; i++) df += `COPY --from=s${i} /n /n${i}\n`;
  writeFileSync(join(ctx, 'Dockerfile'), df);
  return ctx;
}

describe('build progress through a pipe to a slow reader', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `out-${process.pid}`;
  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  test('--progress json (embedded builder): every event, build/finished included', async () => {
    const meta = join(tempDir('meta'), 'meta.json');
    const r = await throughSlowReader(
      ['build', '--progress', 'json', '--metadata-file', meta, chattyContext()],
      {
        // The embedded builder builds in the engine of DOCKER_HOST, which has the base image.
        env: { DOCKER_HOST: BUILDER_ENGINE },
        // The metadata file is written once the progress output is.
        ready: () => existsSync(meta),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.out.length > ONE_MIB, `only ${r.out.length} bytes`);
    const events = r.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; ok?: boolean });
    const finished = events.find((e) => e.type === 'build/finished');
    assert.equal(finished?.ok, true);
  });

  test('--progress plain 2>&1 (depot-builder serve): the steps summary at the end', async () => {
    const meta = join(tempDir('meta'), 'meta.json');
    const r = await throughSlowReader(
      [...buildOn(builder.url, token, project), '--metadata-file', meta, chattyContext()],
      { merge: true, ready: () => existsSync(meta) },
    );
    assert.equal(r.code, 0, r.out.slice(-2000));
    assert.ok(r.out.length > 1000 * 1000, `only ${r.out.length} bytes`);
    assert.match(r.out, /\nsteps: \d+ total, \d+ cached[^\n]*\n$/);
  });
});

describe('a build that ends early: Ctrl-C, a stopped builder', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `stop-${process.pid}`;
  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  /** Starts a plain-progress build of a long `RUN sleep`; resolves once the step runs. */
  async function sleepingBuild(): Promise<{
    child: ChildProcess;
    stderr: () => string;
    code: Promise<number>;
  }> {
    const ctx = tempDir('sleepy');
    const nonce = randomBytes(6).toString('hex');
    // The log line (`started-…`) differs from the step's name, so it shows the step is running.
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nRUN echo "started"-${nonce} && sleep 60\n`);
    const child = spawn(process.execPath, [DEPOT_BIN, ...buildOn(builder.url, token, project), ctx], {
      env: { ...process.env, ...isolatedEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    const code = new Promise<number>((r) => child.once('close', (c) => r(c ?? -1)));
    const started = new RegExp(`^#\\d+ [\\d.]+ started-${nonce}$`, 'm');
    await until('the RUN step to start', () => started.test(stderr) || child.exitCode !== null, 60_000);
    assert.match(stderr, started);
    return { child, stderr: () => stderr, code };
  }

  test('Ctrl-C in plain mode: `depot: cancelled` and exit 130', async () => {
    const b = await sleepingBuild();
    b.child.kill('SIGINT');
    assert.equal(await b.code, 130, b.stderr());
    assert.equal(b.stderr().trimEnd().split('\n').at(-1), 'depot: cancelled');
  });

  test('the builder stopped with SIGTERM: one line saying so and exit 1', async () => {
    const b = await sleepingBuild();
    const builderExit = new Promise((r) => builder.child.once('exit', r));
    builder.child.kill('SIGTERM');
    assert.equal(await b.code, 1, b.stderr());
    const last = b.stderr().trimEnd().split('\n').at(-1)!;
    assert.match(last, /^depot: the builder shut down during the build \(run the build again[^)]*\)$/);
    assert.doesNotMatch(b.stderr(), /cancelled/);
    assert.equal(await builderExit, 0);
  });
});

describe('usage errors', { skip: notBuilt }, () => {
  test('an unknown flag: one line, exit 1', async () => {
    const r = await depot(['build', '--foo', '.']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'depot: unknown flag --foo for depot build; see depot build --help\n');
    const ls = await depot(['context', 'ls', '--bar=1']);
    assert.equal(ls.code, 1);
    assert.equal(ls.stderr, 'depot: unknown flag --bar for depot context ls; see depot context ls --help\n');
  });

  test('a docker build flag depot does not support yet is named as such', async () => {
    for (const [args, line] of [
      [['build', '--print', '.'], 'depot: --print is not supported yet by depot build'],
      [['dev', '--print', '.'], 'depot: --print is not supported yet by depot dev'],
      [['dev', '-o', 'out', '.'], 'depot: -o is not supported yet by depot dev'],
    ] as const) {
      const r = await depot([...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `${line}\n`);
    }
  });

  test('other usage errors are one line too; help still works', async () => {
    const r = await depot(['build', '--progress', 'loud', '.']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, /^depot: .*'loud'.*; see depot build --help\n$/);
    const help = await depot(['build', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: depot build/);
  });
});

describe('--label without a value', { skip }, () => {
  const tag = `depot-it/label:${process.pid}`;
  after(() => {
    docker(BUILDER_ENGINE, ['rmi', '-f', tag]);
  });

  test('is a label with an empty value on the image, as with docker', async () => {
    const ctx = tempDir('label');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nRUN echo ${randomBytes(6).toString('hex')}\n`);
    const r = await depot(
      ['build', '--progress', 'plain', '--label', 'flag', '--label', 'k=v', '-t', tag, ctx],
      // The embedded builder: the image lands in the engine of DOCKER_HOST.
      { DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    const inspect = docker(BUILDER_ENGINE, ['image', 'inspect', '--format', '{{json .Config.Labels}}', tag]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.deepEqual(JSON.parse(inspect.stdout), { flag: '', k: 'v' });
  });
});
