/**
 * A real Node project for builds that run the real `npm ci`: test/fixtures/npm-app (80 packages:
 * express, lodash, chalk, commander and their dependencies, locked) and a local base image with
 * this machine's `node` and `npm`, their shared libraries, and an npm cache holding every locked
 * package, with npm set to offline — so `RUN npm ci` installs the real tree inside a build with no
 * registry. The cache is filled once per lockfile from the npm registry on the host
 * (`npm ci --cache`), then reused by later runs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { docker, tempDir } from './harness.js';

export const NPM_APP = resolve(import.meta.dirname, '../fixtures/npm-app');

/** Packages in the fixture's lockfile. */
export function lockedPackages(): number {
  const lock = JSON.parse(readFileSync(join(NPM_APP, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return Object.keys(lock.packages).filter(Boolean).length;
}

function fixtureKey(): string {
  return createHash('sha256')
    .update(readFileSync(join(NPM_APP, 'package-lock.json')))
    .update(process.version)
    .update('node-fixture-2')
    .digest('hex')
    .slice(0, 12);
}

/** An npm cache with every locked package, filled from the registry once per lockfile. */
function npmCache(): string {
  const dir = join(tmpdir(), `depot-npm-cache-${fixtureKey()}`);
  if (existsSync(join(dir, 'complete'))) return dir;
  const work = tempDir('npm-cache-fill');
  cpSync(join(NPM_APP, 'package.json'), join(work, 'package.json'));
  cpSync(join(NPM_APP, 'package-lock.json'), join(work, 'package-lock.json'));
  const partial = `${dir}.${process.pid}`;
  execFileSync('npm', ['ci', '--cache', partial, '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  writeFileSync(join(partial, 'complete'), '');
  try {
    renameSync(partial, dir);
  } catch {
    // Another run filled it first: theirs is as good.
  }
  return dir;
}

/** The shared libraries `file` loads, as ldd resolves them (name it asks for → file on disk). */
function sharedLibraries(file: string): Array<{ path: string; real: string }> {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  const libs: Array<{ path: string; real: string }> = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.push({ path: m[1]!, real: realpathSync(m[1]!) });
  }
  return libs;
}

/**
 * A base image on `engine` with node, npm and the fixture's packages cached offline, built once
 * (its tag names the lockfile and the node version). Returns the tag.
 */
export function nodeBaseImage(engine: string): string {
  const tag = `depot-it/node-npm:${fixtureKey()}`;
  if (docker(engine, ['image', 'inspect', tag]).code === 0) return tag;
  const ctx = tempDir('node-base');
  const root = join(ctx, 'rootfs');
  const put = (from: string, to: string) => {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    cpSync(from, join(root, to), { recursive: true, dereference: true });
  };
  const node = realpathSync(process.execPath);
  put(node, '/usr/bin/node');
  for (const lib of sharedLibraries(node)) {
    // The loader at the path the binary names; the others where the loader looks.
    if (basename(lib.path).startsWith('ld-linux')) put(lib.real, lib.path);
    else put(lib.real, `/lib/x86_64-linux-gnu/${basename(lib.path)}`);
  }
  const npmDir = realpathSync(
    join(dirname(realpathSync(execFileSync('which', ['npm'], { encoding: 'utf8' }).trim())), '..'),
  );
  put(npmDir, '/usr/lib/node_modules/npm');
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm'));
  symlinkSync('/bin/env', join(root, 'usr/bin/env'));
  put(npmCache(), '/npm-cache');
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM busybox',
      'COPY rootfs/ /',
      'ENV npm_config_cache=/npm-cache npm_config_offline=true npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_logs_max=0',
      '',
    ].join('\n'),
  );
  const b = docker(engine, ['build', '-q', '-t', tag, ctx]);
  if (b.code !== 0) throw new Error(`node base image: ${b.stderr}`);
  const check = docker(engine, ['run', '--rm', tag, 'npm', '--version']);
  if (check.code !== 0) throw new Error(`node base image cannot run npm: ${check.stderr}`);
  return tag;
}

/** A fresh copy of the fixture project with a Dockerfile that runs `npm ci` after `COPY . .`. */
export function npmApp(base: string): string {
  const dir = tempDir('npm-app');
  cpSync(NPM_APP, dir, { recursive: true });
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${base}\nWORKDIR /app\nCOPY . .\nRUN npm ci --omit=dev\nCMD ["node", "src/index.js"]\n`,
  );
  return dir;
}

/** Runs `node -e script` in a container of `image` on `engine`; its stdout. */
export function nodeRuns(engine: string, image: string, script: string): string {
  const r = docker(engine, ['run', '--rm', image, 'node', '-e', script]);
  if (r.code !== 0) throw new Error(`node -e in ${image}: ${r.stderr}`);
  return r.stdout;
}
