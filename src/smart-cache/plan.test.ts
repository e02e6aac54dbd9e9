import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ContextFiles, planSmartCache } from './plan.js';

/** A context of these files (path → content). */
function ctx(files: Record<string, string>): ContextFiles {
  return {
    has: (p) => p in files,
    hasUnder: (d) => Object.keys(files).some((p) => p.startsWith(`${d}/`)),
    read: async (p) => {
      const v = files[p];
      if (v === undefined) throw new Error(`ENOENT ${p}`);
      return v;
    },
  };
}

const NODE = {
  'package.json': '{"name":"app","dependencies":{"left-pad":"1.3.0"}}',
  'package-lock.json': '{}',
  'src/index.js': 'console.log(1)',
};

test('COPY . . then npm ci: the manifests first, the install, then the rest of the copy', async () => {
  const df = 'FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci --omit=dev\nCMD ["node", "src/index.js"]\n';
  const plan = await planSmartCache(df, ctx({ ...NODE, '.npmrc': 'registry=x' }));
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.rewrites, [
    {
      copyLine: 3,
      installLine: 4,
      installer: 'npm ci',
      manifests: ['package.json', 'package-lock.json', '.npmrc'],
      install: 'RUN npm ci --omit=dev',
      rest: 'COPY . .',
    },
  ]);
  assert.equal(
    plan.dockerfile,
    'FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json .npmrc ./\nRUN npm ci --omit=dev\nCOPY . .\nCMD ["node", "src/index.js"]\n',
  );
});

test('flags of the copy are kept; a continued install moves whole; cache mounts are fine', async () => {
  const df =
    'FROM node\nCOPY --chown=1000:1000 . .\nRUN --mount=type=cache,target=/root/.npm \\\n    npm ci\n# done\nUSER 1000\n';
  const plan = await planSmartCache(df, ctx(NODE));
  assert.equal(plan.rewrites.length, 1);
  assert.equal(
    plan.dockerfile,
    'FROM node\nCOPY --chown=1000:1000 package.json package-lock.json ./\nRUN --mount=type=cache,target=/root/.npm \\\n    npm ci\nCOPY --chown=1000:1000 . .\n# done\nUSER 1000\n',
  );
});

test('pip install -r and go mod download are taken with their manifests', async () => {
  const py = await planSmartCache(
    'FROM python\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n',
    ctx({ 'requirements.txt': 'flask==3.0.0\n--index-url https://pypi.org/simple\n', 'app.py': '' }),
  );
  assert.deepEqual(py.rewrites[0]?.manifests, ['requirements.txt']);
  const go = await planSmartCache(
    'FROM golang\nCOPY . .\nRUN go mod download\nRUN go build ./...\n',
    ctx({ 'go.mod': 'module x\n', 'go.sum': '', 'main.go': '' }),
  );
  assert.deepEqual(go.rewrites[0]?.manifests, ['go.mod', 'go.sum']);
  assert.match(
    go.dockerfile,
    /^FROM golang\nCOPY go.mod go.sum \.\/\nRUN go mod download\nCOPY \. \.\nRUN go build/,
  );
});

test('every way the install could read or write more is refused, with its reason', async () => {
  const npm = 'FROM node\nCOPY . .\nRUN npm ci\n';
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    [
      'lifecycle script',
      { ...NODE, 'package.json': '{"scripts":{"postinstall":"node build.js"}}' },
      /postinstall/,
    ],
    ['workspaces', { ...NODE, 'package.json': '{"workspaces":["pkgs/*"]}' }, /workspaces/],
    ['local dependency', { ...NODE, 'package.json': '{"dependencies":{"lib":"file:../lib"}}' }, /local path/],
    ['no lockfile', { 'package.json': '{}' }, /no lockfile/],
    ['node_modules sent', { ...NODE, 'node_modules/x/index.js': '' }, /node_modules/],
    ['npm install', NODE, /npm ci/, 'FROM node\nCOPY . .\nRUN npm install\n'],
    ['not a plain command', NODE, /plain command/, 'FROM node\nCOPY . .\nRUN npm ci && npm run build\n'],
    [
      'a bind mount',
      NODE,
      /cache mounts/,
      'FROM node\nCOPY . .\nRUN --mount=type=bind,source=x,target=/x npm ci\n',
    ],
    ['a network flag', NODE, /cache mounts/, 'FROM node\nCOPY . .\nRUN --network=none npm ci\n'],
    [
      'yarn without its lockfile',
      NODE,
      /yarn\.lock is not in the build context/,
      'FROM node\nCOPY . .\nRUN yarn install --frozen-lockfile\n',
    ],
    [
      'an installer not on the list',
      NODE,
      /not on the smart cache's list/,
      'FROM rust\nCOPY . .\nRUN cargo fetch\n',
    ],
    [
      'editable',
      { 'requirements.txt': '-e .\n' },
      /editable/,
      'FROM py\nCOPY . .\nRUN pip install -r requirements.txt\n',
    ],
    [
      'find-links',
      { 'requirements.txt': '-f ./wheels\nx\n' },
      /option/,
      'FROM py\nCOPY . .\nRUN pip install -r requirements.txt\n',
    ],
    [
      'local req',
      { 'requirements.txt': './libs/x\n' },
      /local path/,
      'FROM py\nCOPY . .\nRUN pip install -r requirements.txt\n',
    ],
    [
      'go replace',
      { 'go.mod': 'module x\nreplace a => ./a\n' },
      /local directory/,
      'FROM go\nCOPY . .\nRUN go mod download\n',
    ],
  ];
  for (const [name, files, reason, df] of cases) {
    const plan = await planSmartCache(df ?? npm, ctx(files));
    assert.equal(plan.rewrites.length, 0, name);
    assert.equal(plan.dockerfile, df ?? npm, `${name}: the Dockerfile is left as it is`);
    assert.equal(plan.refusals.length, 1, name);
    assert.match(plan.refusals[0]!.reason, reason, name);
    assert.equal(plan.refusals[0]!.line, 3, name);
  }
});

test('no candidate: a copy into another directory, a copy of part of the context, a later step between', async () => {
  for (const df of [
    'FROM node\nCOPY . /app\nRUN npm ci\n',
    'FROM node\nCOPY src .\nRUN npm ci\n',
    'FROM node\nCOPY . .\nENV NODE_ENV=production\nRUN npm ci\n',
    'FROM node\nCOPY --from=build . .\nRUN npm ci\n',
  ]) {
    const plan = await planSmartCache(df, ctx(NODE));
    assert.deepEqual(plan, { rewrites: [], refusals: [], dockerfile: df }, df);
  }
});

/** The step is left as it is, on the install's line, for a reason matching `reason`. */
async function assertRefused(name: string, df: string, files: Record<string, string>, reason: RegExp) {
  const plan = await planSmartCache(df, ctx(files));
  assert.equal(plan.rewrites.length, 0, `${name}: not rewritten`);
  assert.equal(plan.dockerfile, df, `${name}: the Dockerfile is left as it is`);
  assert.equal(plan.refusals.length, 1, `${name}: one refusal`);
  assert.match(plan.refusals[0]!.reason, reason, name);
  const runLine =
    df.split('\n').findIndex((l, i, all) => /^COPY \. \.$/.test(all[i - 1] ?? '') && /^RUN/.test(l)) + 1;
  assert.equal(plan.refusals[0]!.line, runLine, `${name}: the install's line`);
}

const YARN1 = {
  'package.json': '{"name":"app","packageManager":"yarn@1.22.22","dependencies":{"left-pad":"1.3.0"}}',
  'yarn.lock':
    '# yarn lockfile v1\n\nleft-pad@1.3.0:\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#5b8a3a7765dfe001261dde915589e782f8c94d1e"\n',
  'src/index.js': '',
};
const BERRY = {
  'package.json': '{"name":"app","packageManager":"yarn@4.5.0","dependencies":{"left-pad":"1.3.0"}}',
  'yarn.lock':
    '__metadata:\n  version: 8\n\n"left-pad@npm:1.3.0":\n  version: 1.3.0\n  resolution: "left-pad@npm:1.3.0"\n',
  '.yarnrc.yml':
    'nodeLinker: node-modules\nnpmRegistryServer: "https://registry.example.com"\nyarnPath: .yarn/releases/yarn-4.5.0.cjs\nplugins:\n  - path: .yarn/plugins/@yarnpkg/plugin-x.cjs\n    spec: "https://example.com/plugin-x.js"\n',
  '.yarn/releases/yarn-4.5.0.cjs': '',
  '.yarn/plugins/@yarnpkg/plugin-x.cjs': '',
  'src/index.js': '',
};
const PNPM = {
  'package.json': '{"name":"app","packageManager":"pnpm@9.12.0","dependencies":{"left-pad":"1.3.0"}}',
  'pnpm-lock.yaml':
    "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      left-pad:\n        specifier: 1.3.0\n        version: 1.3.0\n",
  'src/index.js': '',
};
const RUBY = {
  Gemfile:
    'source "https://rubygems.org"\nruby "3.3.0"\n\ngem "rack", "~> 3.0"\ngem "rails", github: "rails/rails", branch: "main"\ngroup :development, :test do\n  gem "rspec", require: false\nend\n',
  'Gemfile.lock': 'GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.0)\n\nPLATFORMS\n  ruby\n',
  'app.rb': '',
};
const PHP = {
  'composer.json':
    '{"name":"acme/app","require":{"monolog/monolog":"^3.0"},"autoload":{"psr-4":{"App\\\\":"src/"}}}',
  'composer.lock':
    '{"packages":[{"name":"monolog/monolog","version":"3.5.0","dist":{"type":"zip","url":"https://api.github.com/repos/x/y/zipball/abc"},"type":"library","notification-url":"https://packagist.org/downloads/"}]}',
  'src/App.php': '',
};
const POETRY = {
  'pyproject.toml':
    '[tool.poetry]\nname = "app"\nversion = "0.1.0"\nreadme = "README.md"\npackages = [{ include = "app", from = "src" }]\n\n[tool.poetry.dependencies]\npython = "^3.11"\nrequests = "^2.31"\n\n[tool.poetry.group.dev.dependencies]\npytest = { version = "^8", optional = true }\n\n[build-system]\nrequires = ["poetry-core"]\n',
  'poetry.lock': '[[package]]\nname = "requests"\nversion = "2.31.0"\n\n[metadata]\nlock-version = "2.0"\n',
  'README.md': '# app\n',
  'src/app/__init__.py': '',
};

test('yarn 1 and yarn 2+: the manifests, its rc files and the yarn and plugins it runs', async () => {
  const y1 = await planSmartCache(
    'FROM node\nWORKDIR /app\nCOPY . .\nRUN yarn install --frozen-lockfile --production\n',
    ctx({ ...YARN1, '.yarnrc': 'registry "https://registry.example.com"\n', '.yarnclean': '*.md\n' }),
  );
  assert.deepEqual(y1.refusals, []);
  assert.deepEqual(y1.rewrites[0]?.manifests, ['package.json', 'yarn.lock', '.yarnrc', '.yarnclean']);
  assert.match(
    y1.dockerfile,
    /COPY package\.json yarn\.lock \.yarnrc \.yarnclean \.\/\nRUN yarn install --frozen-lockfile --production\nCOPY \. \.\n$/,
  );
  const berry = await planSmartCache('FROM node\nCOPY . .\nRUN yarn install --immutable\n', ctx(BERRY));
  assert.deepEqual(berry.refusals, []);
  assert.equal(
    berry.dockerfile,
    'FROM node\nCOPY package.json yarn.lock .yarnrc.yml ./\nCOPY .yarn/releases/yarn-4.5.0.cjs ./.yarn/releases/\nCOPY .yarn/plugins/@yarnpkg/plugin-x.cjs ./.yarn/plugins/@yarnpkg/\nRUN yarn install --immutable\nCOPY . .\n',
  );
  // `yarn` alone installs too; yarn 2+ takes --frozen-lockfile as --immutable.
  const bare = await planSmartCache('FROM node\nCOPY . .\nRUN yarn --frozen-lockfile\n', ctx(BERRY));
  assert.equal(bare.rewrites[0]?.installer, 'yarn install');
});

test('yarn: every way the install could read or write more is refused', async () => {
  const df = 'FROM node\nCOPY . .\nRUN yarn install --frozen-lockfile\n';
  const pkg = (extra: string) => `{"name":"app","packageManager":"yarn@1.22.22",${extra}}`;
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    ['not frozen', YARN1, /may rewrite yarn\.lock/, 'FROM node\nCOPY . .\nRUN yarn install\n'],
    [
      '--immutable under yarn 1',
      YARN1,
      /yarn 1 ignores --immutable/,
      'FROM node\nCOPY . .\nRUN yarn install --immutable\n',
    ],
    [
      '--immutable without a yarnPath',
      { ...BERRY, '.yarnrc.yml': 'nodeLinker: node-modules\n' },
      /yarn 1 ignores --immutable/,
      'FROM node\nCOPY . .\nRUN yarn install --immutable\n',
    ],
    ['no packageManager', { ...YARN1, 'package.json': '{"name":"app"}' }, /names no packageManager/],
    ['another packageManager', { ...YARN1, 'package.json': '{"packageManager":"pnpm@9.0.0"}' }, /not yarn/],
    ['lifecycle script', { ...YARN1, 'package.json': pkg('"scripts":{"prepare":"husky"}') }, /runs prepare/],
    ['workspaces', { ...YARN1, 'package.json': pkg('"workspaces":["packages/*"]') }, /workspaces/],
    [
      'portal dependency',
      { ...YARN1, 'package.json': pkg('"dependencies":{"lib":"portal:../lib"}') },
      /local path/,
    ],
    [
      'local resolution',
      { ...YARN1, 'package.json': pkg('"resolutions":{"lib":"file:./vendor/lib"}') },
      /resolutions/,
    ],
    [
      'local patch in the lockfile',
      {
        ...YARN1,
        'yarn.lock': '"lodash@patch:lodash@npm%3A4.17.21#./.yarn/patches/lodash.patch::locator=app":\n',
      },
      /local package or patch/,
    ],
    [
      'local package in the lockfile',
      { ...YARN1, 'yarn.lock': '"lib@file:../lib":\n  version "1.0.0"\n' },
      /local package/,
    ],
    [
      'offline mirror',
      { ...YARN1, '.yarnrc': 'yarn-offline-mirror "./npm-packages-offline-cache"\n' },
      /\.yarnrc sets yarn-offline-mirror/,
    ],
    ['.yarnrc cafile', { ...YARN1, '.yarnrc': 'cafile certs/ca.pem\n' }, /\.yarnrc sets cafile/],
    ['.npmrc cafile', { ...YARN1, '.npmrc': 'cafile=./certs/ca.pem\n' }, /\.npmrc sets cafile/],
    ['cacheFolder', { ...BERRY, '.yarnrc.yml': 'cacheFolder: ./cache\n' }, /\.yarnrc\.yml sets cacheFolder/],
    [
      'injected env file',
      { ...BERRY, '.yarnrc.yml': 'injectEnvironmentFiles:\n  - .env.ci\n' },
      /\.yarnrc\.yml sets injectEnvironmentFiles/,
    ],
    [
      'yarnPath not sent',
      { ...BERRY, '.yarn/releases/yarn-4.5.0.cjs': undefined as unknown as string },
      /does not send/,
    ],
    ['yarnPath outside', { ...BERRY, '.yarnrc.yml': 'yarnPath: ../yarn.cjs\n' }, /outside the build context/],
    [
      'plugin not sent',
      { ...BERRY, '.yarn/plugins/@yarnpkg/plugin-x.cjs': undefined as unknown as string },
      /plugins names/,
    ],
    ['node_modules sent', { ...YARN1, 'node_modules/x/index.js': '' }, /holds node_modules\//],
    ['.pnp.cjs sent', { ...BERRY, '.pnp.cjs': '' }, /holds \.pnp\.cjs,/],
    ['zero-install cache sent', { ...BERRY, '.yarn/cache/left-pad.zip': '' }, /holds \.yarn\/cache\//],
    [
      'unknown option',
      YARN1,
      /options the smart cache does not know/,
      'FROM node\nCOPY . .\nRUN yarn install --frozen-lockfile --modules-folder x\n',
    ],
    [
      'chained',
      YARN1,
      /plain command/,
      'FROM node\nCOPY . .\nRUN yarn install --frozen-lockfile && yarn build\n',
    ],
    ['yarn add', YARN1, /yarn add/, 'FROM node\nCOPY . .\nRUN yarn add left-pad\n'],
  ];
  for (const [name, files, reason, d] of cases)
    await assertRefused(
      name,
      d ?? df,
      Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)),
      reason,
    );
});

test('pnpm install --frozen-lockfile: package.json, the lockfile and .npmrc; its refusals', async () => {
  const df = 'FROM node\nCOPY . .\nRUN pnpm install --frozen-lockfile --prod\n';
  const plan = await planSmartCache(
    df,
    ctx({ ...PNPM, '.npmrc': 'registry=https://registry.example.com\n' }),
  );
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.rewrites[0]?.manifests, ['package.json', 'pnpm-lock.yaml', '.npmrc']);
  const pkg = (extra: string) => `{"name":"app","packageManager":"pnpm@9.12.0",${extra}}`;
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    ['not frozen', PNPM, /may rewrite pnpm-lock\.yaml/, 'FROM node\nCOPY . .\nRUN pnpm install\n'],
    [
      'workspace',
      { ...PNPM, 'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n' },
      /pnpm-workspace\.yaml/,
    ],
    ['pnpmfile', { ...PNPM, '.pnpmfile.cjs': 'module.exports = {}' }, /\.pnpmfile\.cjs is code/],
    [
      'patched dependencies',
      { ...PNPM, 'package.json': pkg('"pnpm":{"patchedDependencies":{"x@1":"patches/x.patch"}}') },
      /patches dependencies/,
    ],
    [
      'local override',
      { ...PNPM, 'package.json': pkg('"pnpm":{"overrides":{"x":"link:./x"}}') },
      /pnpm\.overrides/,
    ],
    [
      'linked package in the lockfile',
      {
        ...PNPM,
        'pnpm-lock.yaml': 'importers:\n  .:\n    dependencies:\n      lib:\n        version: link:../lib\n',
      },
      /local package/,
    ],
    ['store in the context', { ...PNPM, '.npmrc': 'store-dir=.pnpm-store\n' }, /\.npmrc sets store-dir/],
    ['postinstall', { ...PNPM, 'package.json': pkg('"scripts":{"postinstall":"node x.js"}') }, /postinstall/],
    ['no packageManager', { ...PNPM, 'package.json': '{"name":"app"}' }, /names no packageManager/],
    ['node_modules sent', { ...PNPM, 'node_modules/.modules.yaml': '' }, /node_modules/],
    [
      'unknown option',
      PNPM,
      /options the smart cache does not know/,
      'FROM node\nCOPY . .\nRUN pnpm install --frozen-lockfile --filter web\n',
    ],
    ['pnpm add', PNPM, /pnpm add/, 'FROM node\nCOPY . .\nRUN pnpm add left-pad\n'],
  ];
  for (const [name, files, reason, d] of cases) await assertRefused(name, d ?? df, files, reason);
  // --ignore-scripts makes lifecycle scripts harmless, as with npm.
  const quiet = await planSmartCache(
    'FROM node\nCOPY . .\nRUN pnpm install --frozen-lockfile --ignore-scripts\n',
    ctx({ ...PNPM, 'package.json': pkg('"scripts":{"postinstall":"node x.js"}') }),
  );
  assert.equal(quiet.rewrites.length, 1);
});

test('bundle install: Gemfile, Gemfile.lock, .bundle/config where COPY . . puts it, once frozen by ENV; its refusals', async () => {
  const df = 'FROM ruby\nENV BUNDLE_FROZEN=true\nWORKDIR /app\nCOPY . .\nRUN bundle install --jobs 4\n';
  const plan = await planSmartCache(
    df,
    ctx({
      ...RUBY,
      '.bundle/config': '---\nBUNDLE_WITHOUT: "development:test"\n',
      '.ruby-version': '3.3.0\n',
    }),
  );
  assert.deepEqual(plan.refusals, []);
  assert.equal(
    plan.dockerfile,
    'FROM ruby\nENV BUNDLE_FROZEN=true\nWORKDIR /app\nCOPY Gemfile Gemfile.lock .ruby-version ./\nCOPY .bundle/config ./.bundle/\nRUN bundle install --jobs 4\nCOPY . .\n',
  );
  const deployment = await planSmartCache(df.replace('BUNDLE_FROZEN=true', 'BUNDLE_DEPLOYMENT 1'), ctx(RUBY));
  assert.equal(deployment.rewrites.length, 1, 'ENV BUNDLE_DEPLOYMENT 1 freezes too');
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    ['not frozen', RUBY, /may rewrite Gemfile\.lock/, 'FROM ruby\nCOPY . .\nRUN bundle install\n'],
    [
      'frozen in another stage',
      RUBY,
      /may rewrite Gemfile\.lock/,
      'FROM ruby\nENV BUNDLE_FROZEN=true\nFROM ruby\nCOPY . .\nRUN bundle install\n',
    ],
    [
      'unfrozen by .bundle/config',
      { ...RUBY, '.bundle/config': 'BUNDLE_FROZEN: "false"\n' },
      /may rewrite Gemfile\.lock/,
    ],
    ['no lockfile', { Gemfile: RUBY.Gemfile }, /Gemfile\.lock is not in the build context/],
    ['gemspec', { ...RUBY, Gemfile: 'source "https://rubygems.org"\ngemspec\n' }, /gemspec/],
    ['path gem', { ...RUBY, Gemfile: 'gem "lib", path: "./lib"\n' }, /local path/],
    ['path block', { ...RUBY, Gemfile: 'path "engines" do\n  gem "x"\nend\n' }, /local path|does not read/],
    [
      'eval_gemfile',
      { ...RUBY, Gemfile: 'eval_gemfile "Gemfile.local"\n' },
      /Ruby the smart cache does not read/,
    ],
    [
      'ruby file:',
      { ...RUBY, Gemfile: 'ruby file: ".ruby-version"\n' },
      /Ruby the smart cache does not read/,
    ],
    ['local git', { ...RUBY, Gemfile: 'gem "x", git: "../x"\n' }, /local git repository/],
    [
      'unknown gem option',
      { ...RUBY, Gemfile: 'gem "x", install_if: -> { true }\n' },
      /does not (know|read)/,
    ],
    [
      'PATH gems in the lock',
      { ...RUBY, 'Gemfile.lock': 'PATH\n  remote: engines/x\n  specs:\n' },
      /PATH gems/,
    ],
    ['vendor/cache sent', { ...RUBY, 'vendor/cache/rack-3.0.0.gem': '' }, /vendor\/cache/],
    ['vendor/bundle sent', { ...RUBY, 'vendor/bundle/ruby/3.3.0/x': '' }, /holds vendor\/bundle\//],
    [
      'BUNDLE_PATH sent',
      { ...RUBY, '.bundle/config': 'BUNDLE_PATH: "gems"\n', 'gems/x': '' },
      /holds gems\//,
    ],
    [
      'unknown config',
      { ...RUBY, '.bundle/config': 'BUNDLE_GEMFILE: "Gemfile.prod"\n' },
      /\.bundle\/config sets BUNDLE_GEMFILE/,
    ],
    [
      'ENV BUNDLE_GEMFILE',
      RUBY,
      /ENV BUNDLE_GEMFILE/,
      'FROM ruby\nENV BUNDLE_FROZEN=true BUNDLE_GEMFILE=Gemfile.prod\nCOPY . .\nRUN bundle install\n',
    ],
    [
      'unknown option',
      RUBY,
      /options the smart cache does not know/,
      'FROM ruby\nENV BUNDLE_FROZEN=true\nCOPY . .\nRUN bundle install --deployment\n',
    ],
    ['bundle update', RUBY, /rewrites the lockfile/, 'FROM ruby\nCOPY . .\nRUN bundle update\n'],
  ];
  for (const [name, files, reason, d] of cases)
    await assertRefused(
      name,
      d ?? 'FROM ruby\nENV BUNDLE_FROZEN=true\nCOPY . .\nRUN bundle install\n',
      files,
      reason,
    );
});

test('composer install --no-autoloader: composer.json, composer.lock, auth.json; its refusals', async () => {
  const df = 'FROM php\nCOPY . .\nRUN composer install --no-dev --no-autoloader --no-interaction\n';
  const plan = await planSmartCache(df, ctx({ ...PHP, 'auth.json': '{}' }));
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.rewrites[0]?.manifests, ['composer.json', 'composer.lock', 'auth.json']);
  const json = (extra: string) => `{"name":"acme/app",${extra}}`;
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    ['autoloader', PHP, /--no-autoloader/, 'FROM php\nCOPY . .\nRUN composer install --no-dev\n'],
    [
      'scripts',
      { ...PHP, 'composer.json': json('"scripts":{"post-install-cmd":["php artisan x"]}') },
      /post-install-cmd/,
    ],
    [
      'plugins',
      { ...PHP, 'composer.lock': '{"packages":[{"name":"x/y","type":"composer-plugin"}]}' },
      /--no-plugins/,
    ],
    [
      'path repository',
      { ...PHP, 'composer.json': json('"repositories":[{"type":"path","url":"../lib"}]') },
      /path repository/,
    ],
    [
      'artifact repository',
      { ...PHP, 'composer.json': json('"repositories":{"a":{"type":"artifact","url":"zips/"}}') },
      /artifact repository/,
    ],
    [
      'local vcs repository',
      { ...PHP, 'composer.json': json('"repositories":[{"type":"vcs","url":"./lib"}]') },
      /local path/,
    ],
    [
      'path package in the lock',
      { ...PHP, 'composer.lock': '{"packages":[{"name":"x/y","dist":{"type":"path","url":"../y"}}]}' },
      /local path/,
    ],
    ['git checkout sent', { ...PHP, '.git/HEAD': 'ref: refs/heads/main\n' }, /holds \.git/],
    ['vendor sent', { ...PHP, 'vendor/autoload.php': '' }, /holds vendor\//],
    [
      'bin-dir sent',
      { ...PHP, 'composer.json': json('"config":{"bin-dir":"bin"}'), 'bin/console': '' },
      /holds bin\//,
    ],
    [
      'vendor-dir outside',
      { ...PHP, 'composer.json': json('"config":{"vendor-dir":"../vendor"}') },
      /outside the working directory/,
    ],
    [
      'cafile',
      { ...PHP, 'composer.json': json('"config":{"cafile":"./certs/ca.pem"}') },
      /sets cafile to a path/,
    ],
    ['no lockfile', { 'composer.json': PHP['composer.json'] }, /composer\.lock is not in the build context/],
    [
      'unknown option',
      PHP,
      /options the smart cache does not know/,
      'FROM php\nCOPY . .\nRUN composer install --no-autoloader --optimize-autoloader\n',
    ],
    ['composer update', PHP, /rewrites the lockfile/, 'FROM php\nCOPY . .\nRUN composer update\n'],
  ];
  for (const [name, files, reason, d] of cases)
    await assertRefused(
      name,
      d ?? 'FROM php\nCOPY . .\nRUN composer install --no-autoloader\n',
      files,
      reason,
    );
  // Scripts and plugins are harmless with --no-scripts / --no-plugins; a stated version needs no .git.
  const off = await planSmartCache(
    'FROM php\nCOPY . .\nRUN composer install --no-autoloader --no-scripts --no-plugins\n',
    ctx({
      ...PHP,
      'composer.json': json('"version":"1.2.0","scripts":{"post-install-cmd":["x"]}'),
      'composer.lock': '{"packages":[{"name":"x/y","type":"composer-plugin"}]}',
      '.git/HEAD': '',
    }),
  );
  assert.deepEqual(off.refusals, []);
});

test('poetry install --no-root: pyproject.toml, poetry.lock, poetry.toml and the readme it loads; its refusals', async () => {
  const df = 'FROM python\nCOPY . .\nRUN poetry install --no-root --only main --no-interaction\n';
  const plan = await planSmartCache(df, ctx({ ...POETRY, 'poetry.toml': '[virtualenvs]\ncreate = false\n' }));
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.rewrites[0]?.manifests, [
    'pyproject.toml',
    'poetry.lock',
    'poetry.toml',
    'README.md',
  ]);
  const deps = (line: string) => POETRY['pyproject.toml'].replace('requests = "^2.31"', line);
  const cases: Array<[string, Record<string, string>, RegExp, string?]> = [
    ['the project itself', POETRY, /--no-root/, 'FROM python\nCOPY . .\nRUN poetry install\n'],
    [
      'path dependency',
      { ...POETRY, 'pyproject.toml': deps('lib = { path = "../lib", develop = true }') },
      /local dependency/,
    ],
    [
      'file dependency',
      { ...POETRY, 'pyproject.toml': deps('whl = { file = "wheels/x.whl" }') },
      /local dependency/,
    ],
    [
      'PEP 621 file dependency',
      {
        ...POETRY,
        'pyproject.toml': '[project]\nname = "app"\ndependencies = [\n  "lib @ file:///src/lib",\n]\n',
      },
      /local dependency/,
    ],
    [
      'directory in the lock',
      {
        ...POETRY,
        'poetry.lock': '[[package]]\nname = "lib"\n[package.source]\ntype = "directory"\nurl = "../lib"\n',
      },
      /local directory/,
    ],
    [
      'plugins',
      {
        ...POETRY,
        'pyproject.toml': `${POETRY['pyproject.toml']}\n[tool.poetry.requires-plugins]\npoetry-plugin-export = ">=1.8"\n`,
      },
      /plugins/,
    ],
    [
      'local source',
      {
        ...POETRY,
        'pyproject.toml': `${POETRY['pyproject.toml']}\n[[tool.poetry.source]]\nname = "local"\nurl = "./wheels"\n`,
      },
      /local path/,
    ],
    ['.venv sent', { ...POETRY, '.venv/pyvenv.cfg': '' }, /holds \.venv\//],
    [
      'no lockfile',
      { 'pyproject.toml': POETRY['pyproject.toml'] },
      /poetry\.lock is not in the build context/,
    ],
    [
      'unknown option',
      POETRY,
      /options the smart cache does not know/,
      'FROM python\nCOPY . .\nRUN poetry install --no-root --directory sub\n',
    ],
    ['poetry lock', POETRY, /rewrites the lockfile/, 'FROM python\nCOPY . .\nRUN poetry lock\n'],
  ];
  for (const [name, files, reason, d] of cases)
    await assertRefused(name, d ?? 'FROM python\nCOPY . .\nRUN poetry install --no-root\n', files, reason);
});

test('every rewrite copies at least the manifests the shared installers table names', async () => {
  const { installIn } = await import('./installers.js');
  const cases: Array<[string, Record<string, string>]> = [
    ['FROM x\nCOPY . .\nRUN npm ci\n', NODE],
    ['FROM x\nCOPY . .\nRUN yarn install --frozen-lockfile\n', YARN1],
    ['FROM x\nCOPY . .\nRUN pnpm install --frozen-lockfile\n', PNPM],
    ['FROM x\nCOPY . .\nRUN pip install -r requirements.txt\n', { 'requirements.txt': 'x==1\n' }],
    ['FROM x\nCOPY . .\nRUN go mod download\n', { 'go.mod': 'module x\n', 'go.sum': '' }],
    ['FROM x\nENV BUNDLE_FROZEN=1\nCOPY . .\nRUN bundle install\n', RUBY],
    ['FROM x\nCOPY . .\nRUN composer install --no-autoloader\n', PHP],
    ['FROM x\nCOPY . .\nRUN poetry install --no-root\n', POETRY],
  ];
  for (const [df, files] of cases) {
    const plan = await planSmartCache(df, ctx(files));
    assert.equal(plan.rewrites.length, 1, df);
    const tool = installIn(df.split('\n').at(-2)!.slice(4));
    assert.ok(tool, df);
    for (const m of tool.manifests) assert.ok(plan.rewrites[0]!.manifests.includes(m), `${df}: ${m}`);
  }
});
