/**
 * Every installer on the smart cache's list against a real builder: for each, the original order
 * and the smart plan end with the same filesystem entry by entry (content, mode, owner, links); a
 * source edit reuses the install in the smart plan; a manifest edit re-runs it. The installers are
 * fixture tools in one local base image, named like the real ones, that read exactly the files the
 * real tool reads (a required file missing fails the step loudly; an optional one is recorded as
 * present or absent) and write a result derived from their contents: so a plan that copied too few
 * files fails the build or ends with a different filesystem.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DEPOT_BIN,
  docker,
  imageFilesystem,
  isolatedEnv,
  run,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();
const BASE = `depot-it/fixture-installers:${process.pid}`;

// What every fixture tool shares: `need` fails loudly on a missing file the real tool requires;
// `emit DIR FILE…` writes, under DIR, files derived from the contents of FILE… (an absent optional
// file is recorded as absent), one executable, one private file and a symlink to the executable.
const FIXTURE_LIB = `
need() { for f in "$@"; do [ -f "$f" ] || { echo "fixture $TOOL: $f is missing" >&2; exit 1; }; done; }
emit() {
  out=$1; shift
  for f in "$@"; do
    if [ -f "$f" ]; then echo "$f $(md5sum < "$f" | cut -c1-32)"; else echo "$f absent"; fi
  done > /tmp/inputs
  sum=$(md5sum < /tmp/inputs | cut -c1-12)
  rm -rf "$out/$TOOL-pkg" "$out/.bin"
  mkdir -p "$out/$TOOL-pkg/bin" "$out/.bin"
  mv /tmp/inputs "$out/$TOOL-pkg/inputs"
  echo "$sum" > "$out/$TOOL-pkg/version"
  chmod 600 "$out/$TOOL-pkg/version"
  printf '#!/bin/sh\\necho %s\\n' "$sum" > "$out/$TOOL-pkg/bin/cli"
  chmod 755 "$out/$TOOL-pkg/bin/cli"
  ln -s "../$TOOL-pkg/bin/cli" "$out/.bin/$TOOL-$sum"
}
`;

/** Each fixture tool: the files the real one reads, and where it writes. */
const TOOLS: Record<string, string> = {
  yarn: `TOOL=yarn
case " $* " in *" --frozen-lockfile "*|*" --immutable "*) ;; *) echo "fixture yarn: only frozen installs" >&2; exit 1;; esac
need package.json yarn.lock
files="package.json yarn.lock .yarnrc .yarnrc.yml .npmrc .yarnclean .env.yarn"
# yarn (1 or 2+) hands the install to the release yarnPath names, and loads the plugins listed.
if [ -f .yarnrc.yml ]; then
  for p in $(sed -n -e 's/^yarnPath: *//p' -e 's/^ *- path: *//p' .yarnrc.yml); do need "$p"; files="$files $p"; done
fi
emit node_modules $files`,
  pnpm: `TOOL=pnpm
case " $* " in *" --frozen-lockfile "*) ;; *) echo "fixture pnpm: only frozen installs" >&2; exit 1;; esac
need package.json pnpm-lock.yaml
emit node_modules package.json pnpm-lock.yaml .npmrc`,
  bundle: `TOOL=bundle
[ "$BUNDLE_FROZEN" = true ] || { echo "fixture bundle: only frozen installs" >&2; exit 1; }
need Gemfile Gemfile.lock
emit /usr/local/bundle Gemfile Gemfile.lock .bundle/config .ruby-version`,
  composer: `TOOL=composer
case " $* " in *" --no-autoloader "*) ;; *) echo "fixture composer: only --no-autoloader" >&2; exit 1;; esac
need composer.json composer.lock
emit vendor composer.json composer.lock auth.json`,
  poetry: `TOOL=poetry
case " $* " in *" --no-root "*) ;; *) echo "fixture poetry: only --no-root" >&2; exit 1;; esac
need pyproject.toml poetry.lock
# poetry loads the project's metadata: the readme it declares must be there.
readme=$(sed -n 's/^readme *= *"\\(.*\\)"/\\1/p' pyproject.toml)
[ -z "$readme" ] || need "$readme"
emit /opt/venv pyproject.toml poetry.lock poetry.toml $readme`,
  pip: `TOOL=pip
[ "$*" = "install -r requirements.txt" ] || { echo "fixture pip: only install -r requirements.txt" >&2; exit 1; }
need requirements.txt
emit /usr/lib/python3/site-packages requirements.txt`,
  go: `TOOL=go
[ "$*" = "mod download" ] || { echo "fixture go: only mod download" >&2; exit 1; }
need go.mod
emit /root/go/pkg/mod go.mod go.sum`,
};

interface Case {
  name: string;
  /** Lines of the Dockerfile between FROM and the copy (ENV). */
  env?: string;
  install: string;
  /** The context: path → content (a leading "x:" makes the file executable). */
  files: (token: string) => Record<string, string>;
  /** The manifest edited to show the install re-runs. */
  manifest: string;
  /** A file the smart plan must copy before the install (proves the plan was taken). */
  first: string;
}

const CASES: Case[] = [
  {
    name: 'yarn 1',
    install: 'yarn install --frozen-lockfile',
    files: (t) => ({
      'package.json': `{"name":"app-${t}","packageManager":"yarn@1.22.22","dependencies":{"left-pad":"1.3.0"}}\n`,
      'yarn.lock': '# yarn lockfile v1\n\nleft-pad@1.3.0:\n  version "1.3.0"\n',
      '.yarnrc': 'registry "https://registry.example.com"\n',
      '.yarnclean': '*.md\n',
    }),
    manifest: 'yarn.lock',
    first: '.yarnclean',
  },
  {
    name: 'yarn 2+',
    install: 'yarn install --immutable',
    files: (t) => ({
      'package.json': `{"name":"app-${t}","packageManager":"yarn@4.5.0","dependencies":{"left-pad":"1.3.0"}}\n`,
      'yarn.lock': '__metadata:\n  version: 8\n\n"left-pad@npm:1.3.0":\n  version: 1.3.0\n',
      '.yarnrc.yml':
        'nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.5.0.cjs\nplugins:\n  - path: .yarn/plugins/@yarnpkg/plugin-x.cjs\n    spec: "https://example.com/plugin-x.js"\n',
      '.yarn/releases/yarn-4.5.0.cjs': 'x:// yarn 4.5.0\n',
      '.yarn/plugins/@yarnpkg/plugin-x.cjs': '// plugin\n',
      '.yarn/sdks/readme.txt': 'not read by the install\n',
    }),
    manifest: 'package.json',
    first: '.yarn/releases/yarn-4.5.0.cjs',
  },
  {
    name: 'pnpm',
    install: 'pnpm install --frozen-lockfile',
    files: (t) => ({
      'package.json': `{"name":"app-${t}","packageManager":"pnpm@9.12.0","dependencies":{"left-pad":"1.3.0"}}\n`,
      'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      '.npmrc': 'registry=https://registry.example.com\n',
    }),
    manifest: 'pnpm-lock.yaml',
    first: '.npmrc',
  },
  {
    name: 'bundler',
    env: 'ENV BUNDLE_FROZEN=true',
    install: 'bundle install --jobs 4',
    files: (t) => ({
      Gemfile: `source "https://rubygems.org"\ngem "rack", "~> 3.0"\n# ${t}\n`,
      'Gemfile.lock': 'GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.0)\n',
      '.bundle/config': '---\nBUNDLE_WITHOUT: "development"\n',
      '.ruby-version': '3.3.0\n',
    }),
    manifest: 'Gemfile.lock',
    first: '.bundle/config',
  },
  {
    name: 'composer',
    install: 'composer install --no-autoloader --no-dev',
    files: (t) => ({
      'composer.json': `{"name":"acme/app-${t}","require":{"monolog/monolog":"^3.0"}}\n`,
      'composer.lock': '{"packages":[{"name":"monolog/monolog","version":"3.5.0","type":"library"}]}\n',
      'auth.json': '{"http-basic":{}}\n',
    }),
    manifest: 'composer.lock',
    first: 'auth.json',
  },
  {
    name: 'poetry',
    install: 'poetry install --no-root',
    files: (t) => ({
      'pyproject.toml': `[tool.poetry]\nname = "app-${t}"\nversion = "0.1.0"\nreadme = "README.md"\n\n[tool.poetry.dependencies]\nrequests = "^2.31"\n`,
      'poetry.lock': '[[package]]\nname = "requests"\nversion = "2.31.0"\n',
      'poetry.toml': '[virtualenvs]\ncreate = false\n',
      'README.md': '# app\n',
    }),
    manifest: 'poetry.lock',
    first: 'README.md',
  },
  {
    name: 'pip',
    install: 'pip install -r requirements.txt',
    files: (t) => ({ 'requirements.txt': `flask==3.0.0\n# ${t}\n` }),
    manifest: 'requirements.txt',
    first: 'requirements.txt',
  },
  {
    name: 'go',
    install: 'go mod download',
    files: (t) => ({
      'go.mod': `module example.com/app${t}\n\ngo 1.22\n`,
      'go.sum': 'example.com/x v1.0.0 h1:abc=\n',
    }),
    manifest: 'go.sum',
    first: 'go.sum',
  },
];

describe('the smart cache, for every installer on its list', { skip, concurrency: 4 }, () => {
  let builder: BuilderProcess;
  let token: string;

  before(async () => {
    const dir = tempDir('fixture-installers');
    const lines = ['FROM busybox'];
    for (const [tool, body] of Object.entries(TOOLS)) {
      writeFileSync(join(dir, tool), `#!/bin/sh\nset -e\n${FIXTURE_LIB}\n${body}\n`);
      chmodSync(join(dir, tool), 0o755);
      lines.push(`COPY ${tool} /usr/local/bin/${tool}`);
    }
    writeFileSync(join(dir, 'Dockerfile'), `${lines.join('\n')}\n`);
    const b = docker(BUILDER_ENGINE, ['build', '-q', '-t', BASE, dir]);
    assert.equal(b.code, 0, b.stderr);
    builder = await startBuilder();
    token = builder.token('smart-installers');
  });
  after(async () => {
    await builder?.stop();
    docker(BUILDER_ENGINE, ['rmi', '-f', BASE]);
  });

  const write = (ctx: string, files: Record<string, string>) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(ctx, path)), { recursive: true });
      const exec = content.startsWith('x:');
      writeFileSync(join(ctx, path), exec ? content.slice(2) : content, { mode: exec ? 0o755 : 0o644 });
    }
  };

  const build = async (ctx: string, install: string, extra: string[]) => {
    const r = await run(
      process.execPath,
      [DEPOT_BIN, ...buildOn(builder.url, token, 'smart-installers', 'json'), ...extra, ctx],
      { ...isolatedEnv(), DOCKER_HOST: BUILDER_ENGINE },
    );
    assert.equal(r.code, 0, r.stderr);
    const vertices = new Map<string, boolean>();
    let imageId = '';
    for (const l of r.stdout.split('\n')) {
      if (l.startsWith('{"type":"build/finished"')) imageId = (JSON.parse(l) as { imageId: string }).imageId;
      if (l.startsWith('{"type":"vertex/updated"')) {
        const v = (JSON.parse(l) as { vertex: { name: string; cached: boolean; completedMs: number } })
          .vertex;
        if (v.completedMs) vertices.set(v.name.replace(/^\[[^\]]*\]\s*/, ''), v.cached);
      }
    }
    assert.match(imageId, /^sha256:/);
    return { imageId, installCached: vertices.get(`RUN ${install}`), steps: [...vertices.keys()] };
  };

  const sameFilesystem = async (plain: string, smart: string, what: string) => {
    const a = await imageFilesystem(BUILDER_ENGINE, plain);
    const b = await imageFilesystem(BUILDER_ENGINE, smart);
    assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort(), what);
    return a;
  };

  const prove = async (c: Case) => {
    const token = `${process.pid}-${Date.now()}-${c.name.replace(/\W/g, '')}`;
    const ctx = tempDir('smart-installer');
    write(ctx, {
      ...c.files(token),
      'src/main.txt': `v1 ${token}\n`,
      'src/run.sh': 'x:#!/bin/sh\necho run\n',
      Dockerfile: `FROM ${BASE}\n${c.env ? `${c.env}\n` : ''}WORKDIR /app\nCOPY . .\nRUN ${c.install}\nCMD ["sh"]\n`,
    });
    const plain = await build(ctx, c.install, []);
    const smart = await build(ctx, c.install, ['--smart-cache']);
    assert.equal(plain.installCached, false, `${c.name}: a fresh install`);
    assert.ok(
      smart.steps.some((s) => s.startsWith('COPY ') && s.includes(c.first)),
      `${c.name}: the smart plan copies ${c.first} first (${smart.steps.join(' | ')})`,
    );
    const fs = await sameFilesystem(plain.imageId, smart.imageId, `${c.name}: the same filesystem`);
    assert.ok(
      [...fs.keys()].some((k) => k.includes('.bin/') && fs.get(k)!.startsWith('symlink')),
      `${c.name}: the fixture installed`,
    );

    // A source edit: the smart plan reuses the install (the original order re-running it after a
    // source edit, and both orders still agreeing, is shown once for npm in smart-cache.test.ts).
    write(ctx, { 'src/main.txt': `v2 ${token}\n` });
    const smart2 = await build(ctx, c.install, ['--smart-cache']);
    assert.equal(smart2.installCached, true, `${c.name}: the install is reused after a source edit`);
    const edited = await imageFilesystem(BUILDER_ENGINE, smart2.imageId);
    assert.equal(
      edited.get('app/src/main.txt')?.split(' ')[0],
      'file',
      `${c.name}: the edit is in the image`,
    );
    assert.notEqual(
      edited.get('app/src/main.txt'),
      fs.get('app/src/main.txt'),
      `${c.name}: the edit is in the image`,
    );

    // A manifest edit re-runs it.
    writeFileSync(join(ctx, c.manifest), `${c.files(`${token}-2`)[c.manifest]}\n`);
    const smart3 = await build(ctx, c.install, ['--smart-cache']);
    assert.equal(smart3.installCached, false, `${c.name}: a manifest edit re-runs the install`);
  };

  // One test per installer, four at a time: each build is mostly waiting on the engine.
  for (const c of CASES)
    test(`${c.name}: the same filesystem as the original order; a source edit reuses the install, a manifest edit re-runs it`, () =>
      prove(c));
});
