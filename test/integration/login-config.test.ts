import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  DEPOT_BIN,
  depot,
  skipReason,
  startBuilder,
  tempDir,
  until,
} from './harness.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const skip = skipReason();

/** Config, cache and data dirs of one user: logins stay out of other tests' defaults. */
/** A context with a Dockerfile, so a build gets as far as picking its builder. */
function ctx(): string {
  const dir = tempDir('login-ctx');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  return dir;
}

function home(): Record<string, string> {
  const h = tempDir('login-cfg');
  return {
    XDG_CONFIG_HOME: join(h, 'config'),
    XDG_CACHE_HOME: join(h, 'cache'),
    XDG_DATA_HOME: join(h, 'data'),
  };
}

describe('depot login, logout, config and builders ls', { skip }, () => {
  let builder: BuilderProcess;
  let token = '';
  const project = `login-${process.pid}`;
  const sock = `depot-login-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    spawnSync('tmux', ['-L', sock, 'kill-server']);
    await builder?.stop();
  });

  test('the token typed at the prompt of a terminal is not echoed', {
    skip: !hasTmux && 'tmux is not installed',
  }, async () => {
    const env = Object.entries({ ...home(), DEPOT_NO_KEYCHAIN: '1' })
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'login',
      '-x',
      '200',
      '-y',
      '20',
      `env -u CI -u DEPOT_TOKEN ${env} ${process.execPath} ${DEPOT_BIN} login --builder ${builder.url} --project ${project}`,
    );
    // The pane stays after the command ends, so its last screen can be read.
    tmux('set-option', '-t', 'login', 'remain-on-exit', 'on');
    const pane = () => tmux('capture-pane', '-p', '-t', 'login');
    await until('the token prompt', () => pane().includes('token:'), 15_000);
    tmux('send-keys', '-t', 'login', '-l', `${token}x`);
    tmux('send-keys', '-t', 'login', 'BSpace');
    tmux('send-keys', '-t', 'login', 'Enter');
    const screen = await until(
      'login done',
      () => (/logged in to|depot:/.test(pane()) ? pane() : undefined),
      15_000,
    );
    assert.match(screen, /logged in to bld-\S+ \(linux\/amd64\)/, screen);
    assert.ok(!screen.includes(token.slice(0, 12)), `the token is on screen:\n${screen}`);
  });

  test('a wrong token is said to be refused by the builder, without "run depot login"', async () => {
    const r = await depot(['login', '--builder', builder.url, '--token', 'not-a-token'], home());
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^depot: builder \S+ refused the token \(check it, or create one .*depot-builder token create/,
    );
    assert.doesNotMatch(r.stderr, /run `?depot login/);
  });

  test('builder addresses are checked on input', async () => {
    const env = home();
    for (const args of [
      ['login', '--builder', 'http://127.0.0.1:7000', '--token', token],
      ['config', 'set', 'builder', 'htp://nonsense'],
      ['build', '--builder', 'nonsense', '--token', token, ctx()],
    ]) {
      const r = await depot(args, env);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr.trim(),
        /^depot: invalid builder address "[^"]+" \(use tcp:\/\/HOST:PORT, tls:\/\/HOST:PORT, unix:\/\/\/PATH or HOST:PORT\)$/,
      );
    }
    const got = await depot(['config', 'get', 'builder'], env);
    assert.equal(got.stdout.trim(), '');
    const ok = await depot(['config', 'set', 'builder', 'builder.example:7000'], env);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('login → config list (no token) → builders ls lists the builder → logout removes the token', async () => {
    const env = home();
    const login = await depot(
      ['login', '--builder', builder.url, '--token', token, '--project', project],
      env,
    );
    assert.equal(login.code, 0, login.stderr);

    const list = await depot(['config', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^builder=${builder.url}$`, 'm'));
    assert.match(list.stdout, new RegExp(`^project=${project}$`, 'm'));
    assert.match(list.stdout, new RegExp(`^tokens stored for=${builder.url}$`, 'm'));
    assert.ok(!list.stdout.includes(token));

    // No fleet at all: the builder of `depot login` is listed, with what its Hello says.
    const ls = await depot(
      ['builders', 'ls', '--json', '--fleet', `file:${join(tempDir('nofleet'), 'f.json')}`],
      env,
    );
    assert.equal(ls.code, 0, ls.stderr);
    const rows = JSON.parse(ls.stdout) as Array<{
      id: string;
      endpoint: string;
      platforms: string[];
      health: string;
    }>;
    assert.equal(rows.length, 1, ls.stdout);
    assert.equal(rows[0]!.endpoint, builder.url);
    assert.equal(rows[0]!.health, 'up');
    assert.match(rows[0]!.id, /^bld-/);
    assert.deepEqual(rows[0]!.platforms, ['linux/amd64']);

    const out = await depot(['logout'], env);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      new RegExp(`removed the token for builder ${builder.url} from \\S+credentials\\.json`),
    );
    const after = await depot(['config', 'list'], env);
    assert.match(after.stdout, /^tokens stored for=$/m);
    const again = await depot(['logout', '--builder', builder.url], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`no token stored for builder ${builder.url}`));
    // The stored token is gone: a build now asks for one.
    const build = await depot(['build', ctx()], env);
    assert.match(build.stderr, /no token for builder/);
  });
});
