import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AuthError,
  anyOfVerifiers,
  authorize,
  createRevocationList,
  createTeamTokenVerifier,
  createTokenStore,
  issueTeamToken,
} from './index.js';

const SECRET = 'a-team-secret-of-at-least-32-characters!!';
const notRevoked = async () => false;
const T0 = new Date('2025-03-01T12:00:00.000Z');

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('a team token verifies on any verifier with the same secret', async () => {
  const { token, record } = issueTeamToken(SECRET, 'web', 'alice', { now: () => T0 });
  assert.match(token, /^dpt2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(record, {
    id: record.id,
    project: 'web',
    user: 'alice',
    createdAt: '2025-03-01T12:00:00.000Z',
    revoked: false,
  });
  assert.match(record.id, /^[0-9a-f]{16}$/);
  const builderA = createTeamTokenVerifier({ secret: SECRET, isRevoked: notRevoked });
  const builderB = createTeamTokenVerifier({ secret: SECRET, isRevoked: notRevoked });
  assert.deepEqual(await builderA.verify(token), record);
  assert.deepEqual(await builderB.verify(token), record);
  assert.deepEqual(authorize(await builderA.verify(token), 'web'), { ok: true });
  assert.equal(authorize(await builderA.verify(token), 'api').ok, false, 'another project is refused');
});

test('tampered, wrongly signed or malformed tokens do not verify', async () => {
  const verifier = createTeamTokenVerifier({ secret: SECRET, isRevoked: notRevoked });
  const { token } = issueTeamToken(SECRET, 'web', 'alice');
  const [head, payload, sig] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, p: 'api' })).toString('base64url');
  const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
  for (const bad of [
    `${head}.${forged}.${sig}`,
    `${head}.${payload}.${flipped}`,
    issueTeamToken('another-secret-that-is-long-enough-000', 'web', 'alice').token,
    '',
    'dpt2..',
    `${token}x`,
    token.slice(0, -1),
    `Bearer ${token}`,
    `dpt2.${Buffer.from('not json').toString('base64url')}.${sig}`,
  ]) {
    assert.equal(await verifier.verify(bad), undefined, bad);
  }
  assert.equal(await verifier.verify(undefined as unknown as string), undefined);
  // A correctly signed payload with claims of the wrong shape is refused too.
  const { createHmac } = await import('node:crypto');
  const odd = `dpt2.${Buffer.from(JSON.stringify({ p: 'web', u: 'x', iat: 1, jti: 'zz' })).toString('base64url')}`;
  const oddSig = createHmac('sha256', SECRET).update(odd).digest('base64url');
  assert.equal(await verifier.verify(`${odd}.${oddSig}`), undefined);
});

test('revoked and expired tokens do not verify; rotation accepts the old secret', async () => {
  const revoked = new Set<string>();
  let now = T0.getTime();
  const verifier = createTeamTokenVerifier({
    secret: ['new-secret-0123456789-0123456789-0123', SECRET],
    isRevoked: (jti) => revoked.has(jti),
    now: () => new Date(now),
  });
  const old = issueTeamToken(SECRET, 'web', 'alice');
  assert.equal((await verifier.verify(old.token))?.user, 'alice');
  revoked.add(old.record.id);
  assert.equal(await verifier.verify(old.token), undefined);

  const short = issueTeamToken(SECRET, 'web', 'bob', { now: () => T0, ttlMs: 60_000 });
  assert.equal((await verifier.verify(short.token))?.user, 'bob');
  now += 60_000;
  assert.equal(await verifier.verify(short.token), undefined);
  assert.throws(() => issueTeamToken(SECRET, '', 'x'), AuthError);
  assert.throws(() => issueTeamToken([], 'web', 'x'), AuthError);
});

test('the revoked list is cached for maxAge, fetched once at a time, and kept when a refresh fails', async () => {
  let clock = 0;
  let fetches = 0;
  let list = ['aaaaaaaaaaaaaaaa'];
  let failing = false;
  const errors: unknown[] = [];
  const revocation = createRevocationList({
    fetch: async () => {
      fetches++;
      if (failing) throw new Error('registry down');
      return list;
    },
    maxAgeMs: 30_000,
    now: () => clock,
    onError: (err) => errors.push(err),
  });
  const results = await Promise.all([revocation.isRevoked('aaaaaaaaaaaaaaaa'), revocation.isRevoked('b')]);
  assert.deepEqual(results, [true, false]);
  assert.equal(fetches, 1);
  list = ['bbbbbbbbbbbbbbbb'];
  clock = 29_999;
  assert.equal(await revocation.isRevoked('bbbbbbbbbbbbbbbb'), false, 'still the cached list');
  clock = 30_000;
  assert.equal(await revocation.isRevoked('bbbbbbbbbbbbbbbb'), true, 're-read after 30 s');
  failing = true;
  clock = 60_000;
  assert.equal(await revocation.isRevoked('bbbbbbbbbbbbbbbb'), true, 'the last list stays in force');
  assert.equal(errors.length, 1);

  const never = createRevocationList({
    fetch: async () => {
      throw new Error('registry down');
    },
  });
  await assert.rejects(never.isRevoked('x'), { code: 'revocation_unavailable' });
});

test('a builder accepts team tokens and its own per-builder tokens', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-team-'));
  dirs.push(dir);
  const store = createTokenStore(dir);
  const both = anyOfVerifiers(createTeamTokenVerifier({ secret: SECRET, isRevoked: notRevoked }), store);
  const local = await store.create('api', 'bob');
  const team = issueTeamToken(SECRET, 'web', 'alice');
  assert.equal((await both.verify(local.token))?.project, 'api');
  assert.equal((await both.verify(team.token))?.project, 'web');
  assert.equal(await both.verify('dpt_nope'), undefined);
  await store.revoke(local.record.id);
  assert.equal(await both.verify(local.token), undefined);
});
