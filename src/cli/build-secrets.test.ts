import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DepotError } from '../session/index.js';
import {
  loadSecrets,
  MAX_SECRET_BYTES,
  parseSecretFlag,
  parseSshFlag,
  resolveSshAgents,
  splitCsv,
} from './build-secrets.js';

const VALUE = 'hunter2-do-not-print';

/** Asserts a DepotError with this code whose message matches and never contains a secret value. */
async function rejects(fn: () => unknown, code: string, message: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DepotError, `expected a DepotError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, message);
  assert.ok(!caught.message.includes(VALUE) && !(caught.hint ?? '').includes(VALUE), 'value leaked');
  assert.ok(!caught.message.includes('\n'), 'one line');
}

describe('splitCsv', () => {
  test('commas split, double quotes group', () => {
    assert.deepEqual(splitCsv('id=a,src=b'), ['id=a', 'src=b']);
    assert.deepEqual(splitCsv('id=a,"src=x,y"'), ['id=a', 'src=x,y']);
    assert.deepEqual(splitCsv('"id=a""b"'), ['id=a"b']);
    assert.throws(() => splitCsv('"id=a'), /unclosed quote/);
  });
});

describe('parseSecretFlag', () => {
  const env = { TOKEN: VALUE, OTHER: 'x' };

  test('id and src (or source), file type', () => {
    assert.deepEqual(parseSecretFlag('id=npm,src=/home/u/.npmrc', env), {
      id: 'npm',
      source: { file: '/home/u/.npmrc' },
    });
    assert.deepEqual(parseSecretFlag('id=npm,source=rel/.npmrc,type=file', env), {
      id: 'npm',
      source: { file: 'rel/.npmrc' },
    });
  });

  test('id defaults to the base name of src', () => {
    assert.deepEqual(parseSecretFlag('src=/run/keys/aws.cfg', env), {
      id: 'aws.cfg',
      source: { file: '/run/keys/aws.cfg' },
    });
  });

  test('env=VAR, and type=env with src naming the variable (buildx)', () => {
    assert.deepEqual(parseSecretFlag('id=tok,env=TOKEN', env), { id: 'tok', source: { env: 'TOKEN' } });
    assert.deepEqual(parseSecretFlag('id=tok,type=env,src=TOKEN', env), {
      id: 'tok',
      source: { env: 'TOKEN' },
    });
    assert.deepEqual(parseSecretFlag('env=TOKEN', env), { id: 'TOKEN', source: { env: 'TOKEN' } });
  });

  test('neither src nor env: the variable named like the id', () => {
    assert.deepEqual(parseSecretFlag('id=TOKEN', env), { id: 'TOKEN', source: { env: 'TOKEN' } });
    assert.deepEqual(parseSecretFlag('id=TOKEN,type=env', env), { id: 'TOKEN', source: { env: 'TOKEN' } });
  });

  test('keys are case-insensitive, values are not', () => {
    assert.deepEqual(parseSecretFlag('ID=Tok,ENV=TOKEN', env), { id: 'Tok', source: { env: 'TOKEN' } });
  });

  test('every error is one clear line', async () => {
    await rejects(() => parseSecretFlag('id=TOKEN_UNSET', env), 'invalid_flag', /TOKEN_UNSET is not set/);
    await rejects(() => parseSecretFlag('id=a,mode=0400', env), 'invalid_flag', /unknown key "mode"/);
    await rejects(() => parseSecretFlag('id=a,bogus', env), 'invalid_flag', /"bogus" is not KEY=VALUE/);
    await rejects(() => parseSecretFlag('id=a,type=ssh', env), 'invalid_flag', /unknown type "ssh"/);
    await rejects(() => parseSecretFlag('id=a,src=x,env=TOKEN', env), 'invalid_flag', /src or env, not both/);
    await rejects(() => parseSecretFlag('id=a,id=b,src=x', env), 'invalid_flag', /id given twice/);
    await rejects(() => parseSecretFlag('id=a,src=', env), 'invalid_flag', /empty src/);
    await rejects(() => parseSecretFlag('id=a,env=', env), 'invalid_flag', /empty env/);
    await rejects(() => parseSecretFlag('type=file', env), 'invalid_flag', /missing id/);
    await rejects(() => parseSecretFlag('id=', env), 'invalid_flag', /missing id/);
    await rejects(() => parseSecretFlag('id=TOKEN,type=file', env), 'invalid_flag', /type=file needs src/);
    await rejects(
      () => parseSecretFlag('id=a,type=file,env=TOKEN', env),
      'invalid_flag',
      /type=file reads src/,
    );
  });
});

describe('loadSecrets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'depot-secrets-'));
    writeFileSync(join(dir, 'npmrc'), VALUE);
    writeFileSync(join(dir, 'big'), Buffer.alloc(MAX_SECRET_BYTES + 1, 1));
    writeFileSync(join(dir, 'max'), Buffer.alloc(MAX_SECRET_BYTES, 2));
    writeFileSync(join(dir, 'locked'), VALUE);
    chmodSync(join(dir, 'locked'), 0o000);
    mkdirSync(join(dir, 'sub'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('reads files (relative to cwd) and variables into buffers, in memory', async () => {
    const out = await loadSecrets(['id=npm,src=npmrc', 'id=tok,env=TOKEN', 'src=max', 'id=TOKEN'], {
      env: { TOKEN: 'from-env' },
      cwd: dir,
    });
    assert.deepEqual(Object.keys(out), ['npm', 'tok', 'max', 'TOKEN']);
    assert.equal(out.npm!.toString(), VALUE);
    assert.equal(out.tok!.toString(), 'from-env');
    assert.equal(out.max!.length, MAX_SECRET_BYTES);
    assert.ok(Buffer.isBuffer(out.TOKEN));
  });

  test('an empty variable is an empty secret', async () => {
    const out = await loadSecrets(['id=e,env=EMPTY'], { env: { EMPTY: '' } });
    assert.equal(out.e!.length, 0);
  });

  test('nothing given, nothing read', async () => {
    assert.deepEqual(await loadSecrets(undefined), {});
    assert.deepEqual(await loadSecrets([]), {});
  });

  test('duplicate ids', async () => {
    await rejects(
      () => loadSecrets(['id=a,src=npmrc', 'id=a,env=T'], { env: { T: VALUE }, cwd: dir }),
      'invalid_flag',
      /--secret id=a is given twice/,
    );
    // The default id (base name) counts too.
    await rejects(
      () => loadSecrets(['src=npmrc', `src=${join(dir, 'npmrc')}`], { cwd: dir }),
      'invalid_flag',
      /id=npmrc is given twice/,
    );
  });

  test('over 500 KiB, from a file or a variable', async () => {
    await rejects(
      () => loadSecrets(['id=big,src=big'], { cwd: dir }),
      'secret_too_large',
      /--secret id=big is 501 KiB; a secret may be at most 500 KiB/,
    );
    await rejects(
      () => loadSecrets(['id=v,env=V'], { env: { V: 'x'.repeat(MAX_SECRET_BYTES + 1) } }),
      'secret_too_large',
      /at most 500 KiB/,
    );
  });

  test('unreadable, missing, directory', async () => {
    await rejects(
      () => loadSecrets(['id=m,src=missing'], { cwd: dir }),
      'secret_unreadable',
      /--secret id=m: cannot read missing: no such file/,
    );
    await rejects(
      () => loadSecrets(['id=d,src=sub'], { cwd: dir }),
      'secret_unreadable',
      /cannot read sub: it is a directory/,
    );
    if (process.getuid?.() !== 0)
      await rejects(
        () => loadSecrets(['id=l,src=locked'], { cwd: dir }),
        'secret_unreadable',
        /cannot read locked: permission denied/,
      );
  });

  test('an unset variable', async () => {
    await rejects(
      () => loadSecrets(['id=t,env=NOPE'], { env: {} }),
      'invalid_flag',
      /--secret id=t: the environment variable NOPE is not set/,
    );
  });
});

describe('--ssh', () => {
  let dir: string;
  let server: net.Server;
  let sock: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'depot-ssh-flag-'));
    sock = join(dir, 'agent.sock');
    server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    writeFileSync(join(dir, 'id_ed25519'), 'not a socket');
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('parseSshFlag: default, ID, ID=SOCKET', () => {
    const env = { SSH_AUTH_SOCK: '/tmp/agent.1' };
    assert.deepEqual(parseSshFlag('default', env), { id: 'default', socket: '/tmp/agent.1' });
    assert.deepEqual(parseSshFlag('github', env), { id: 'github', socket: '/tmp/agent.1' });
    assert.deepEqual(parseSshFlag('gh=/run/a.sock', env), { id: 'gh', socket: '/run/a.sock' });
    assert.deepEqual(parseSshFlag('default=/run/a.sock', {}), { id: 'default', socket: '/run/a.sock' });
  });

  test('parseSshFlag errors', async () => {
    await rejects(() => parseSshFlag('default', {}), 'ssh_agent', /SSH_AUTH_SOCK is not set/);
    await rejects(() => parseSshFlag('', {}), 'invalid_flag', /missing id/);
    await rejects(() => parseSshFlag('=/x', {}), 'invalid_flag', /missing id/);
    await rejects(() => parseSshFlag('gh=', {}), 'invalid_flag', /empty socket path/);
    await rejects(() => parseSshFlag('gh=/a,/b', {}), 'invalid_flag', /one agent socket per id/);
    await rejects(() => parseSshFlag('g h=/a', {}), 'invalid_flag', /letters, digits/);
  });

  test('resolveSshAgents: sockets only, absolute paths, unique ids', async () => {
    assert.deepEqual(
      await resolveSshAgents(['default', 'gh=agent.sock'], { env: { SSH_AUTH_SOCK: sock }, cwd: dir }),
      {
        default: sock,
        gh: sock,
      },
    );
    assert.deepEqual(await resolveSshAgents(undefined), {});
  });

  test('resolveSshAgents errors: key file, missing socket, unset SSH_AUTH_SOCK, duplicates', async () => {
    await rejects(
      () => resolveSshAgents(['gh=id_ed25519'], { env: {}, cwd: dir }),
      'ssh_agent',
      /id_ed25519 is a regular file; only ssh-agent sockets are supported, not key files/,
    );
    await rejects(
      () => resolveSshAgents(['default'], { env: { SSH_AUTH_SOCK: join(dir, 'gone.sock') } }),
      'ssh_agent',
      /cannot use .*gone\.sock \(SSH_AUTH_SOCK\): no such file/,
    );
    await rejects(
      () => resolveSshAgents(['d=sub'], { env: {}, cwd: tmpdir() }),
      'ssh_agent',
      /cannot use sub: no such file|is not a unix socket/,
    );
    await rejects(
      () => resolveSshAgents(['x'], { env: {} }),
      'ssh_agent',
      /--ssh x: SSH_AUTH_SOCK is not set/,
    );
    await rejects(
      () => resolveSshAgents(['default', 'default=agent.sock'], { env: { SSH_AUTH_SOCK: sock }, cwd: dir }),
      'invalid_flag',
      /--ssh default is given twice/,
    );
    await rejects(() => resolveSshAgents([`d=${dir}`], { env: {} }), 'ssh_agent', /is not a unix socket/);
  });
});
