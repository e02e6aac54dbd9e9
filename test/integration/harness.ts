import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tarStream from 'tar-stream';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The binaries as installed (package.json `bin`): the bundles of scripts/bundle.mjs. */
export const DEPOT_BIN = join(ROOT, 'dist', 'bundle', 'depot.mjs');
export const BUILDER_BIN = join(ROOT, 'dist', 'bundle', 'depot-builder.mjs');
/** The Docker 20.10 CLI (the one on PATH may lack BuildKit support). */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export const BUILDER_ENGINE = process.env.DEPOT_TEST_BUILDER_ENGINE ?? '';
export const LAPTOP_ENGINE = process.env.DEPOT_TEST_LAPTOP_ENGINE ?? '';

/** Why integration tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (!BUILDER_ENGINE || !LAPTOP_ENGINE) return 'engines not started: run through scripts/with-engines.sh';
  if (!existsSync(DEPOT_BIN)) return 'not built: run npm run build';
  return undefined;
}

/** A temp dir, removed never (CI machines are thrown away; keeps failures inspectable). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `depot-test-${prefix}-`));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the depot CLI with an isolated config/cache and the laptop engine as DOCKER_HOST. */
export function depot(
  args: string[],
  env: Record<string, string> = {},
  input?: string | Buffer,
): Promise<RunResult> {
  return run(
    process.execPath,
    [DEPOT_BIN, ...args],
    { ...isolatedEnv(), DOCKER_HOST: LAPTOP_ENGINE, ...env },
    input,
  );
}

let isolated: Record<string, string> | undefined;
/** XDG dirs private to this test process. */
export function isolatedEnv(): Record<string, string> {
  if (!isolated) {
    const home = tempDir('home');
    isolated = {
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_DATA_HOME: join(home, 'data'),
      DEPOT_NO_KEYCHAIN: '1',
      CI: 'true',
    };
  }
  return isolated;
}

/** Runs a command to completion, capturing output. */
export function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  input?: string | Buffer,
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    // A command that never reads its stdin may exit before it is ended (EPIPE): its exit status says how it went.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** Every file under a directory whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/** The layer tars of an image on an engine, from `docker save`, in the image's layer order. */
export async function imageLayers(engine: string, tag: string): Promise<Buffer[]> {
  const tar = execFileSync(DOCKER, ['save', tag], {
    env: { ...process.env, DOCKER_HOST: engine },
    maxBuffer: 256 * 1024 * 1024,
  });
  const extract = tarStream.extract();
  const files = new Map<string, Buffer>();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        files.set(h.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(tar);
  await done;
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as Array<{ Layers: string[] }>;
  return manifest[0]!.Layers.map((l) => files.get(l)!);
}

/**
 * An image's final filesystem, entry by entry (`docker create` + `docker export`): path → type,
 * mode, owner, link target and content digest (times left out: they differ between builds).
 */
export async function imageFilesystem(engine: string, image: string): Promise<Map<string, string>> {
  const env = { ...process.env, DOCKER_HOST: engine };
  const id = execFileSync(DOCKER, ['create', image, 'true'], { env, encoding: 'utf8' }).trim();
  let tar: Buffer;
  try {
    tar = execFileSync(DOCKER, ['export', id], { env, maxBuffer: 512 * 1024 * 1024 });
  } finally {
    spawnSync(DOCKER, ['rm', id], { env });
  }
  const extract = tarStream.extract();
  const out = new Map<string, string>();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const hash = createHash('sha256');
      stream.on('data', (c: unknown) => hash.update(c as Buffer));
      stream.on('end', () => {
        const mode = (h.mode ?? 0).toString(8);
        out.set(h.name, `${h.type} ${mode} ${h.uid}:${h.gid} ${h.linkname ?? ''} ${hash.digest('hex')}`);
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(tar);
  await done;
  return out;
}

/** Runs the docker CLI against an engine. */
export function docker(engine: string, args: string[]): RunResult {
  const r = spawnSync(DOCKER, args, {
    env: { ...process.env, DOCKER_HOST: engine, DOCKER_BUILDKIT: '1' },
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface BuilderProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  logs: () => string;
  token(project: string, user?: string): string;
  stop(): Promise<void>;
}

/** Starts `depot-builder serve` as a separate process against the builder engine. */
export async function startBuilder(
  opts: {
    dataDir?: string;
    listen?: string;
    args?: string[];
    engine?: string;
    env?: Record<string, string>;
  } = {},
): Promise<BuilderProcess> {
  const dataDir = opts.dataDir ?? tempDir('builder');
  const child = spawn(
    process.execPath,
    [
      BUILDER_BIN,
      'serve',
      '--engine',
      opts.engine ?? BUILDER_ENGINE,
      '--data',
      dataDir,
      '--listen',
      opts.listen ?? '127.0.0.1:0',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ? { ...process.env, ...opts.env } : undefined },
  );
  let logs = '';
  child.stderr!.on('data', (d) => (logs += d));
  const address = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`depot-builder exited ${code}: ${logs}`)));
  });
  return {
    url: address.startsWith('unix:') ? address : `tcp://${address}`,
    dataDir,
    child,
    logs: () => logs,
    token(project, user = 'tester') {
      const r = spawnSync(
        process.execPath,
        [BUILDER_BIN, 'token', 'create', '--project', project, '--user', user, '--data', dataDir],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    },
    async stop() {
      // Gone already: exited, or killed by a signal (a crash test's SIGKILL leaves exitCode null).
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The files of `depot-builder tls init`. */
export interface TlsFiles {
  dir: string;
  ca: string;
  caKey: string;
  server: string;
  serverKey: string;
  client: string;
  clientKey: string;
}

/**
 * Runs `depot-builder tls init --out DIR` (default names: localhost and 127.0.0.1; `args` adds
 * e.g. `--client NAME`) and returns the paths of what it writes.
 */
export function tlsInit(args: string[] = ['--host', 'localhost', '--ip', '127.0.0.1']): TlsFiles {
  const dir = join(tempDir('tls'), 'certs');
  const r = spawnSync(process.execPath, [BUILDER_BIN, 'tls', 'init', '--out', dir, ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tls init failed: ${r.stderr}`);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    client: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
  };
}

/** Reads a --metadata-file. */
export function readMetadata(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Polls `fn` (sync or async) every 100 ms until it gives a truthy value; rejects after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a tmux session (on a private server socket) has ended. */
export function tmuxSessionGone(socket: string, session: string): boolean {
  return spawnSync('tmux', ['-L', socket, 'has-session', '-t', session]).status !== 0;
}

/** Why tests of the real terminal cannot run here (tmux missing), or undefined. */
export const NO_TMUX = spawnSync('tmux', ['-V']).status === 0 ? undefined : 'tmux is not installed';

/** A private tmux server for tests of the real terminal: sessions of a given size, screens, keys. */
export function tmuxServer(name: string) {
  const sock = `${name}-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
  return {
    /** Runs `command` (a shell line) in a new session `cols`×`rows`. */
    start(session: string, cols: number, rows: number, command: string): void {
      tmux('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), command);
    },
    /** The session's screen as text. */
    pane: (session: string): string => tmux('capture-pane', '-p', '-t', session),
    keys(session: string, ...keys: string[]): void {
      tmux('send-keys', '-t', session, ...keys);
    },
    gone: (session: string): boolean => tmuxSessionGone(sock, session),
    /** Ends every session of the server. */
    kill(): void {
      spawnSync('tmux', ['-L', sock, 'kill-server']);
    },
  };
}

/** The arguments of a `depot build` sent to the builder at `url` for `project`; the build's own follow. */
export function buildOn(
  url: string,
  token: string,
  project: string,
  progress: 'plain' | 'json' | 'quiet' = 'plain',
): string[] {
  return ['build', '--builder', url, '--token', token, '--project', project, '--progress', progress];
}

/** The arguments of a `depot dev` on the builder at `url` (a terminal's view unless `progress`); the context and the rest follow. */
export function devOn(url: string, token: string, progress?: 'plain' | 'json'): string[] {
  return ['dev', '--builder', url, '--token', token, ...(progress ? ['--progress', progress] : [])];
}

/**
 * A shell command (for tmux) running `depot ARGS` as a person at a terminal would: the isolated
 * config and the laptop engine, `env` on top, and no CI markers (Ink renders only a final frame
 * when it sees one).
 */
export function terminalCommand(args: string[], env: Record<string, string> = {}): string {
  const { CI: _ci, ...base } = isolatedEnv();
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const vars = Object.entries({ ...base, DOCKER_HOST: LAPTOP_ENGINE, ...env })
    .map(([k, v]) => quote(`${k}=${v}`))
    .join(' ');
  return `env -u CI -u CONTINUOUS_INTEGRATION ${vars} ${process.execPath} ${DEPOT_BIN} ${args.map(quote).join(' ')}`;
}

/** Starts or stops a private `docker-registry` (scripts/registry.sh); `start` returns its HOST:PORT. */
export function registry(cmd: 'start' | 'stop', name: string, extra: string[] = []): string {
  const r = spawnSync(join(ROOT, 'scripts', 'registry.sh'), [cmd, name, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`registry.sh ${cmd} ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

/** PostgreSQL's programs (Debian's postgresql-15; scripts/ensure-packages.sh installs it). */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  return existsSync(join(POSTGRES_BIN, 'initdb'))
    ? undefined
    : 'PostgreSQL 15 is not installed: run scripts/ensure-packages.sh';
}

/**
 * Starts or stops a private PostgreSQL server (scripts/postgres.sh: initdb + pg_ctl on a unix socket
 * in a temp dir, no TCP); `start` returns its URL, `stop` removes it.
 */
export function postgres(cmd: 'start' | 'stop', name: string): string {
  const r = spawnSync(join(ROOT, 'scripts', 'postgres.sh'), [cmd, name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`postgres.sh ${cmd} ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Creates an empty database on the server of `url` (a postgres.sh URL); returns its URL. */
export function createDatabase(url: string, name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid database name ${name}`);
  const r = spawnSync(join(POSTGRES_BIN, 'psql'), [url, '-qc', `CREATE DATABASE ${name}`], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`);
  return url.replace(/^postgres:\/\/\/[^?]*/, `postgres:///${name}`);
}

/** Runs one SQL statement with psql on the database of `url`; returns its rows, tab-separated. */
export function psql(url: string, sql: string): string {
  const r = spawnSync(join(POSTGRES_BIN, 'psql'), [url, '-qAtc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

/** Builders of one fleet recording into one PostgreSQL database (`serve --history`), or each its own. */
export interface HistoryFleet {
  /** The database's URL ('' when each builder keeps its own), the fleet's registry and its team secret. */
  database: string;
  fleetSpec: string;
  teamSecret: string;
  builders: BuilderProcess[];
  /** A fleet-wide token (signed with the team secret): valid on every builder. */
  teamToken(project: string, user?: string): string;
  stop(): Promise<void>;
}

/**
 * Starts a private PostgreSQL (`name`) with a fresh database and one `depot-builder serve` per id,
 * all in one file fleet with one team secret and `--history` on that database (`shared` false: no
 * database, each builder keeps its own SQLite history).
 */
export async function startHistoryFleet(name: string, ids: string[], shared = true): Promise<HistoryFleet> {
  const database = shared
    ? createDatabase(postgres('start', name), `${name.replace(/[^a-z0-9]/g, '_')}_db`)
    : '';
  const dir = tempDir('shared-fleet');
  const fleetSpec = `file:${join(dir, 'fleet.json')}`;
  const teamSecret = `file:${join(dir, 'team-secret')}`;
  writeFileSync(join(dir, 'team-secret'), `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const builders: BuilderProcess[] = [];
  const stop = async () => {
    await Promise.all(builders.map((b) => b.stop()));
    if (shared) postgres('stop', name);
  };
  try {
    for (const id of ids)
      builders.push(
        await startBuilder({
          args: [
            '--id',
            id,
            ...(database ? ['--history', database] : []),
            '--fleet',
            fleetSpec,
            '--team-secret',
            teamSecret,
          ],
        }),
      );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    database,
    fleetSpec,
    teamSecret,
    builders,
    teamToken(project, user = 'tester') {
      const r = spawnSync(
        process.execPath,
        [BUILDER_BIN, 'token', 'create', '--project', project, '--user', user, '--team-secret', teamSecret],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    },
    stop,
  };
}
