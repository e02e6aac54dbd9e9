import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AuthError, authorize, createTokenStore } from './index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'depot-auth-'));
  dirs.push(dir);
  return dir;
}

test('create, verify and revoke a token', async () => {
  const dir = await freshDir();
  const store = createTokenStore(dir, { now: () => new Date('2025-01-02T03:04:05.000Z') });
  assert.deepEqual(await store.list(), []);
  const { token, record } = await store.create('web', 'alice');
  assert.match(token, /^dpt_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.ok(token.startsWith(`dpt_${record.id}_`));
  assert.deepEqual(record, {
    id: record.id,
    project: 'web',
    user: 'alice',
    createdAt: '2025-01-02T03:04:05.000Z',
    revoked: false,
  });
  assert.deepEqual(await store.verify(token), record);
  assert.deepEqual(await store.list(), [record]);

  assert.equal(await store.revoke(record.id), true);
  assert.equal(await store.verify(token), undefined);
  assert.deepEqual(await store.list(), [{ ...record, revoked: true }]);
  assert.equal(await store.revoke(record.id), true);
  assert.equal(await store.revoke('0000000000000000'), false);
  assert.equal(await store.revoke('../../etc'), false);
});

test('a wrong secret, an unknown id or a malformed token does not verify', async () => {
  const dir = await freshDir();
  const store = createTokenStore(dir);
  const { token, record } = await store.create('web', 'alice');
  const secret = token.slice(`dpt_${record.id}_`.length);
  const flipped = `${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
  assert.equal(await store.verify(`dpt_${record.id}_${flipped}`), undefined);
  assert.equal(await store.verify(`dpt_0123456789abcdef_${secret}`), undefined);
  for (const bad of [
    '',
    'dpt_',
    token.slice(0, -1),
    `${token}x`,
    ` ${token}`,
    `Bearer ${token}`,
    token.toUpperCase(),
  ]) {
    assert.equal(await store.verify(bad), undefined, bad);
  }
  assert.equal(await store.verify(undefined as unknown as string), undefined);
  assert.deepEqual(await store.verify(token), record);
});

test('tokens are distinct and each verifies to its own record', async () => {
  const store = createTokenStore(await freshDir());
  const a = await store.create('web', 'alice');
  const b = await store.create('api', 'bob');
  assert.notEqual(a.token, b.token);
  assert.notEqual(a.record.id, b.record.id);
  assert.equal((await store.verify(a.token))?.project, 'web');
  assert.equal((await store.verify(b.token))?.project, 'api');
});

test('the file is 0600 and holds hashes only', async () => {
  const dir = await freshDir();
  const store = createTokenStore(dir);
  const { token, record } = await store.create('web', 'alice');
  const file = join(dir, 'tokens.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  const secret = token.slice(`dpt_${record.id}_`.length);
  assert.ok(!text.includes(token));
  assert.ok(!text.includes(secret));
  const parsed = JSON.parse(text) as { tokens: { hash: string }[] };
  assert.match(parsed.tokens[0]?.hash ?? '', /^[0-9a-f]{64}$/);
  // Only tokens.json remains: no temp or lock files.
  assert.deepEqual(await readdir(dir), ['tokens.json']);
});

test('a running server sees tokens the CLI creates and revokes', async () => {
  const dir = await freshDir();
  const server = createTokenStore(dir);
  const cli = createTokenStore(dir);
  assert.deepEqual(await server.list(), []);
  const { token, record } = await cli.create('web', 'alice');
  assert.deepEqual(await server.verify(token), record);
  const second = await cli.create('web', 'bob');
  assert.deepEqual(await server.verify(second.token), second.record);
  await createTokenStore(dir).revoke(record.id);
  assert.equal(await server.verify(token), undefined);
  assert.equal((await server.list()).length, 2);
});

test('concurrent creates from two stores lose nothing', async () => {
  const dir = await freshDir();
  const a = createTokenStore(dir);
  const b = createTokenStore(dir);
  const made = await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => a.create('web', `a${i}`)),
    ...Array.from({ length: 5 }, (_, i) => b.create('web', `b${i}`)),
  ]);
  const list = await createTokenStore(dir).list();
  assert.equal(list.length, 10);
  for (const m of made) assert.deepEqual(await a.verify(m.token), m.record);
});

test('a corrupt token file is an error, not an empty store', async () => {
  const dir = await freshDir();
  await writeFile(join(dir, 'tokens.json'), '{"version":1,"tokens":[{"id":"x"}]}', { mode: 0o600 });
  const store = createTokenStore(dir);
  await assert.rejects(store.verify(`dpt_0123456789abcdef_${'a'.repeat(43)}`), (err: unknown) => {
    return err instanceof AuthError && err.code === 'tokens_corrupt';
  });
});

test('invalid project or user names are refused', async () => {
  const store = createTokenStore(await freshDir());
  for (const [p, u] of [
    ['', 'alice'],
    ['web', ''],
    ['we\nb', 'alice'],
    ['web', 'a\0'],
  ] as const) {
    await assert.rejects(
      store.create(p, u),
      (err: unknown) => err instanceof AuthError && err.code === 'invalid_argument',
    );
  }
});

test('authorize allows a token on its own project only', async () => {
  const store = createTokenStore(await freshDir());
  const { token, record } = await store.create('web', 'alice');
  assert.deepEqual(authorize(await store.verify(token), 'web'), { ok: true });
  assert.deepEqual(authorize(await store.verify(token), 'api'), {
    ok: false,
    code: 'permission_denied',
    message: 'token of project "web" cannot use project "api"',
  });
  const unauthenticated = {
    ok: false,
    code: 'unauthenticated',
    message: 'invalid or missing token: run `depot login --builder URL` or pass --token',
  };
  assert.deepEqual(authorize(undefined, 'web'), unauthenticated);
  assert.deepEqual(authorize({ ...record, revoked: true }, 'web'), unauthenticated);
});
