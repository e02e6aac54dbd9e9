import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FileLockFailure, withFileLock, writeFileDurably } from './index.js';

const MODULE = fileURLToPath(new URL('./index.ts', import.meta.url));
const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'depot-durable-'));
  dirs.push(dir);
  return dir;
}

class LockError extends Error {
  constructor(readonly failure: FileLockFailure) {
    super(failure.kind);
  }
}
const lockOptions = (timeoutMs: number) => ({ timeoutMs, error: (f: FileLockFailure) => new LockError(f) });

/** Runs `body` (an ES module body with `mod` = this module) in a real child process. */
async function child(dir: string, body: string, args: string[] = []): Promise<ChildProcess> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  await writeFile(
    script,
    `const mod = await import(${JSON.stringify(MODULE)});\nconst args = process.argv.slice(2);\n${body}\n`,
  );
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(c: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  c.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => c.on('close', (code) => resolve({ code, stderr })));
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('concurrent writers in several processes serialise read-modify-write: no update is lost', async () => {
  const dir = await freshDir();
  const file = join(dir, 'counter.json');
  const writers = 4;
  const rounds = 25;
  const body = `
    const [file, rounds, who] = args;
    for (let i = 0; i < Number(rounds); i++)
      await mod.withFileLock(file, async () => {
        let n = [];
        try { n = JSON.parse(await (await import('node:fs/promises')).readFile(file, 'utf8')).seen; } catch {}
        await mod.writeFileDurably(file, JSON.stringify({ seen: [...n, who + ':' + i] }));
      }, { timeoutMs: 60000, error: (f) => new Error('lock ' + f.kind) });
  `;
  const runs = await Promise.all(
    Array.from({ length: writers }, async (_, w) =>
      exited(await child(dir, body, [file, String(rounds), `w${w}`])),
    ),
  );
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const seen = (JSON.parse(await readFile(file, 'utf8')) as { seen: string[] }).seen;
  assert.equal(seen.length, writers * rounds);
  assert.equal(new Set(seen).size, writers * rounds);
  // Each writer's own updates stay in order.
  for (let w = 0; w < writers; w++)
    assert.deepEqual(
      seen.filter((s) => s.startsWith(`w${w}:`)),
      Array.from({ length: rounds }, (_, i) => `w${w}:${i}`),
    );
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.endsWith('.lock') || n.endsWith('.tmp')),
    [],
  );
});

test('a fresh lock left by a dead process on this host is taken over at once', async () => {
  const dir = await freshDir();
  const file = join(dir, 'state.json');
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead);
  await writeFile(`${file}.lock`, JSON.stringify({ pid: dead, host: hostname(), nonce: 'gone' }));
  const t0 = Date.now();
  const result = await withFileLock(file, async () => 'ran', lockOptions(3_000));
  assert.equal(result, 'ran');
  assert.ok(Date.now() - t0 < 3_000);
  assert.deepEqual(await readdir(dir), []);
});

test('a lock held by a live process is not taken over: the wait ends with a locked error', async () => {
  const dir = await freshDir();
  const file = join(dir, 'state.json');
  const lock = JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'live' });
  await writeFile(`${file}.lock`, lock);
  await assert.rejects(
    withFileLock(file, async () => 'ran', lockOptions(200)),
    (e: LockError) => e.failure.kind === 'locked' && e.failure.lockFile === `${file}.lock`,
  );
  // An empty lock (as older writers left them) is judged by age alone, and so is one from another host.
  for (const text of ['', JSON.stringify({ pid: 1 << 22, host: `not-${hostname()}`, nonce: 'x' })]) {
    await writeFile(`${file}.lock`, text);
    await assert.rejects(
      withFileLock(file, async () => 'ran', lockOptions(100)),
      LockError,
    );
  }
  assert.equal(await withFileLock(file, async () => 'ran', { ...lockOptions(2_000), staleMs: 0 }), 'ran');
});

test('a writer killed mid-write leaves the old file intact', async () => {
  const dir = await freshDir();
  const file = join(dir, 'state.json');
  await writeFile(file, '{"version":1}\n');
  // The child writes a first chunk of the new content, then hangs until it is killed.
  const c = await child(
    dir,
    `
    setInterval(() => {}, 1000);
    async function* chunks() { yield '{"version":2,"half":'; await new Promise(() => {}); }
    await mod.writeFileDurably(args[0], chunks());
  `,
    [file],
  );
  const done = exited(c);
  try {
    const tmp = await until('the half-written temp file', async () => {
      for (const n of await readdir(dir))
        if (n.endsWith('.tmp') && (await stat(join(dir, n))).size > 0) return n;
      return undefined;
    });
    assert.match(tmp, /^\.state\.json\.\d+-[0-9a-f]+\.tmp$/);
  } finally {
    c.kill('SIGKILL');
    await done;
  }
  assert.equal(await readFile(file, 'utf8'), '{"version":1}\n');
});

test('a write that fails part way leaves the old file and no temp file', async () => {
  const dir = await freshDir();
  const file = join(dir, 'state.json');
  await writeFileDurably(file, 'old\n', { mode: 0o600, chmod: true });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  async function* failing() {
    yield 'new';
    throw new Error('source broke');
  }
  await assert.rejects(writeFileDurably(file, failing()), /source broke/);
  assert.equal(await readFile(file, 'utf8'), 'old\n');
  assert.deepEqual(await readdir(dir), ['state.json']);
});

test('the lock is released when the function fails, and a lock taken over is not removed by its old holder', async () => {
  const dir = await freshDir();
  const file = join(dir, 'state.json');
  await assert.rejects(
    withFileLock(
      file,
      async () => {
        throw new Error('boom');
      },
      lockOptions(1_000),
    ),
    /boom/,
  );
  assert.deepEqual(await readdir(dir), []);
  const other = JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other' });
  await withFileLock(
    file,
    async () => {
      // Another writer judged this lock stale and holds its own now.
      await writeFile(`${file}.lock`, other);
    },
    lockOptions(1_000),
  );
  assert.equal(await readFile(`${file}.lock`, 'utf8'), other);
});
