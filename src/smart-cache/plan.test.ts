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
      'yarn',
      NODE,
      /not on the smart cache's list/,
      'FROM node\nCOPY . .\nRUN yarn install --frozen-lockfile\n',
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
