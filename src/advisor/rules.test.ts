import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContextFiles } from '../smart-cache/plan.js';
import { advise, type SentDir } from './rules.js';
import type { Finding, RuleId } from './types.js';

/** A context of these files (path → content). */
function ctx(files: Record<string, string>): ContextFiles {
  return {
    has: (p) => p in files,
    hasUnder: (d) => Object.keys(files).some((p) => d === '' || p.startsWith(`${d}/`)),
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

async function run(
  dockerfile: string,
  files: Record<string, string> = NODE,
  extra: { target?: string; sent?: SentDir[]; hasIgnoreFile?: boolean } = {},
): Promise<Finding[]> {
  return advise({ dockerfile, files: ctx(files), ...extra });
}

const only = (findings: Finding[], rule: RuleId) => findings.filter((f) => f.rule === rule);

describe('copy-before-install', () => {
  test('COPY . . then npm ci: the manifests-first fix, and --smart-cache would do it', async () => {
    const df = 'FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "src/index.js"]\n';
    const [f, ...rest] = only(await run(df), 'copy-before-install');
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { ...f, message: undefined, fix: undefined },
      {
        rule: 'copy-before-install',
        severity: 'warning',
        line: 3,
        instruction: 'COPY . .',
        affects: ['RUN npm ci'],
        message: undefined,
        fix: undefined,
      },
    );
    assert.match(f!.message, /copies the whole context before `RUN npm ci` \(line 4\)/);
    assert.match(f!.fix, /`COPY package\.json package-lock\.json \.\/`/);
    assert.match(f!.fix, /build with --smart-cache, which does this for you/);
  });

  test('a refused rewrite gives the manual fix and the smart cache reason', async () => {
    const df = 'FROM node:20\nCOPY . .\nRUN npm ci\n';
    const files = { ...NODE, 'package.json': '{"scripts":{"postinstall":"node x.js"}}' };
    const [f] = only(await run(df, files), 'copy-before-install');
    assert.match(
      f!.fix,
      /install, then copy the rest; --smart-cache leaves this step as it is: .*postinstall/,
    );
    assert.doesNotMatch(f!.fix, /does this for you/);
  });

  test('an install further down (not adjacent) and ADD . count; a directory holding the manifests too', async () => {
    const a = only(
      await run('FROM node:20\nADD . /app\nWORKDIR /app\nRUN npm ci && npm test\n'),
      'copy-before-install',
    );
    assert.equal(a.length, 1);
    assert.equal(a[0]!.line, 2);
    assert.match(a[0]!.fix, /`ADD package\.json package-lock\.json \/app\/`/);
    const files = { 'web/package.json': '{}', 'web/yarn.lock': '', 'web/src/a.js': '' };
    const b = only(
      await run('FROM node:20\nCOPY web/ /web\nRUN cd /web && yarn install\n', files),
      'copy-before-install',
    );
    assert.equal(b.length, 1);
    assert.match(b[0]!.message, /copies web\/ before/);
    assert.match(b[0]!.fix, /`COPY web\/package\.json web\/yarn\.lock \/web\/`/);
  });

  test('does not fire: manifests copied first, no install, a copy from another stage, a plain source dir', async () => {
    const good =
      'FROM node:20\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n';
    assert.deepEqual(only(await run(good), 'copy-before-install'), []);
    assert.deepEqual(
      only(await run('FROM node:20\nCOPY . .\nRUN npm run build\n'), 'copy-before-install'),
      [],
    );
    const fromStage = 'FROM node:20 AS b\nRUN true\nFROM node:20\nCOPY --from=b . .\nRUN npm ci\n';
    assert.deepEqual(only(await run(fromStage), 'copy-before-install'), []);
    assert.deepEqual(
      only(await run('FROM node:20\nCOPY src/ ./src\nRUN npm ci\n'), 'copy-before-install'),
      [],
    );
  });
});

describe('apt-get-update', () => {
  test('update alone and install alone each fire; together they do not', async () => {
    const df = [
      'FROM debian:12',
      'RUN apt-get update',
      'RUN apt-get install -y curl',
      'RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*',
      'RUN apt update \\',
      '  && apt install -y jq',
    ].join('\n');
    const fs = only(await run(df), 'apt-get-update');
    assert.deepEqual(
      fs.map((f) => [f.line, f.instruction]),
      [
        [2, 'RUN apt-get update'],
        [3, 'RUN apt-get install -y curl'],
      ],
    );
    assert.match(fs[0]!.message, /RUN of its own/);
    assert.match(fs[1]!.message, /without apt-get update in the same RUN/);
    assert.match(fs[1]!.fix, /apt-get update && apt-get install/);
  });
});

describe('add-url-checksum', () => {
  test('ADD of an http(s) URL without --checksum fires; with it, or a local ADD, it does not', async () => {
    const df = [
      'FROM debian:12',
      'ADD https://example.com/tool.tar.gz /opt/',
      'ADD --checksum=sha256:0123 https://example.com/b.tgz /b.tgz',
      'ADD vendor.tar.gz /opt/',
      'COPY https-notes.txt /',
    ].join('\n');
    const fs = only(await run(df, { 'vendor.tar.gz': '', 'https-notes.txt': '' }), 'add-url-checksum');
    assert.equal(fs.length, 1);
    assert.equal(fs[0]!.line, 2);
    assert.match(
      fs[0]!.fix,
      /curl -fsSLo \/opt\/tool\.tar\.gz https:\/\/example\.com\/tool\.tar\.gz && echo "<sha256> {2}\/opt\/tool\.tar\.gz" \| sha256sum -c -/,
    );
    assert.match(fs[0]!.fix, /--checksum/);
  });
});

describe('arg-placement', () => {
  test('an ARG above RUN steps that do not use it: move it to its first use', async () => {
    const df =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'FROM node:20\nARG VERSION\nCOPY package.json ./\nRUN npm ci\nRUN make deps\nRUN echo ${VERSION} > /v\n';
    const [f, ...rest] = only(await run(df, { ...NODE }), 'arg-placement');
    assert.equal(rest.length, 0);
    assert.equal(f!.line, 2);
    assert.equal(f!.instruction, 'ARG VERSION');
    assert.deepEqual(f!.affects, ['RUN npm ci', 'RUN make deps']);
    assert.match(f!.message, /2 RUN steps before its first use \(line 6\)/);
    assert.equal(f!.fix, 'move `ARG VERSION` down to just above line 6');
  });

  test('does not fire: directly above its use, only COPY steps between, a global ARG', async () => {
    const df = [
      'ARG BASE=node:20',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'FROM ${BASE}',
      'ARG A',
      'RUN echo $A',
      'ARG B',
      'COPY package.json ./',
      'RUN echo $B',
    ].join('\n');
    assert.deepEqual(only(await run(df), 'arg-placement'), []);
  });

  test('an ARG no instruction names: info, every RUN below it reruns on a new value', async () => {
    const df = 'FROM node:20\nARG UNUSED\nRUN true\nCOPY . .\nRUN make\n';
    const [f, ...rest] = only(await run(df, { ...NODE }), 'arg-placement');
    assert.equal(rest.length, 0);
    assert.equal(f!.severity, 'info');
    assert.deepEqual(f!.affects, ['RUN true', 'RUN make']);
    assert.match(f!.fix, /^remove `ARG UNUSED` if no script reads \$UNUSED/);
    // No RUN below it: nothing to rerun, nothing to say.
    assert.deepEqual(
      only(await run('FROM node:20\nRUN true\nARG LATE\nCOPY . .\n', { ...NODE }), 'arg-placement'),
      [],
    );
  });
});

describe('install-lockfile', () => {
  test('npm install with a lockfile in the context: use npm ci', async () => {
    const fs = only(await run('FROM node:20\nCOPY . .\nRUN npm install\n'), 'install-lockfile');
    assert.equal(fs.length, 1);
    assert.equal(fs[0]!.severity, 'warning');
    assert.match(fs[0]!.fix, /npm ci/);
  });

  test('no lockfile: npm ci fails (error), yarn floats (warning)', async () => {
    const noLock = { 'package.json': '{}' };
    const ci = only(
      await run('FROM node:20\nCOPY package.json ./\nRUN npm ci\n', noLock),
      'install-lockfile',
    );
    assert.deepEqual(
      ci.map((f) => [f.severity, f.line]),
      [['error', 3]],
    );
    const yarn = only(await run('FROM node:20\nCOPY . .\nRUN yarn install\n', noLock), 'install-lockfile');
    assert.equal(yarn[0]?.severity, 'warning');
    assert.match(yarn[0]!.message, /yarn\.lock is not in the build context/);
  });

  test('a stage built on another inherits its copies', async () => {
    const df = 'FROM node:20 AS deps\nCOPY . .\nFROM deps AS dev\nRUN npm install\n';
    const fs = only(await run(df), 'install-lockfile');
    assert.deepEqual(
      fs.map((f) => [f.line, f.stage]),
      [[4, 'dev']],
    );
  });

  test('does not fire: npm ci with its lockfile, a global install, packages named, nothing copied', async () => {
    assert.deepEqual(only(await run('FROM node:20\nCOPY . .\nRUN npm ci\n'), 'install-lockfile'), []);
    assert.deepEqual(
      only(await run('FROM node:20\nCOPY . .\nRUN npm install -g typescript\n'), 'install-lockfile'),
      [],
    );
    assert.deepEqual(only(await run('FROM node:20\nCOPY . .\nRUN npm i left-pad\n'), 'install-lockfile'), []);
    assert.deepEqual(
      only(await run('FROM node:20\nRUN npm install\n', { 'package.json': '{}' }), 'install-lockfile'),
      [],
    );
  });
});

describe('dockerignore', () => {
  const sent: SentDir[] = [
    { dir: 'node_modules', files: 12034, bytes: 183_200_000, complete: true },
    { dir: '.git', files: 100_000, bytes: 2_500_000_000, complete: false },
    { dir: 'dist', files: 3, bytes: 2048, complete: true },
  ];

  test('each heavy directory sent: its size, the broad COPY a change in it reruns, the fix', async () => {
    const fs = only(await run('FROM node:20\nCOPY . .\n', NODE, { sent }), 'dockerignore');
    assert.deepEqual(
      fs.map((f) => [f.severity, f.line, f.message, f.fix, f.affects]),
      [
        [
          'warning',
          0,
          'node_modules/ (12,034 files, 183.2 MB) is sent with every build, and a change in it reruns `COPY . .`',
          'add `node_modules` to .dockerignore',
          ['COPY . .'],
        ],
        [
          'warning',
          0,
          '.git/ (at least 100,000 files, at least 2500.0 MB) is sent with every build, and a change in it reruns `COPY . .`',
          'add `.git` to .dockerignore',
          ['COPY . .'],
        ],
        [
          'info',
          0,
          'dist/ (3 files, 2.0 kB) is sent with every build, and a change in it reruns `COPY . .`',
          'add `dist` to .dockerignore',
          ['COPY . .'],
        ],
      ],
    );
  });

  test('no ignore file: create one; a directory the Dockerfile copies by name is wanted', async () => {
    const fs = only(
      await run('FROM nginx:1.27\nCOPY dist/ /usr/share/nginx/html\n', NODE, { sent, hasIgnoreFile: false }),
      'dockerignore',
    );
    assert.deepEqual(
      fs.map((f) => f.fix),
      [
        'create a .dockerignore in the context with the line `node_modules`',
        'create a .dockerignore in the context with the line `.git`',
      ],
    );
    assert.equal(fs[0]!.affects, undefined);
  });
});

describe('unpinned-base-image', () => {
  test(':latest and no tag fire; a tag, a digest, scratch, a stage and a variable do not', async () => {
    const df = [
      'FROM node AS a',
      'FROM busybox:latest AS b',
      'FROM node:20.11-alpine AS c',
      'FROM 127.0.0.1:5000/team/base AS d',
      'FROM alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS e',
      'FROM scratch AS f',
      'FROM a AS g',
      'ARG IMG=x',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'FROM ${IMG}',
    ].join('\n');
    const fs = only(await run(df, {}, { target: 'g' }), 'unpinned-base-image');
    assert.deepEqual(
      fs.map((f) => [f.line, f.instruction]),
      [
        [1, 'FROM docker.io/library/node'],
        [2, 'FROM docker.io/library/busybox:latest'],
        [4, 'FROM 127.0.0.1:5000/team/base'],
      ],
    );
    assert.match(fs[0]!.fix, /FROM node:<version>/);
    assert.match(fs[2]!.fix, /FROM 127\.0\.0\.1:5000\/team\/base:<version>/);
  });
});

describe('stages and --target', () => {
  const df = [
    'FROM node:20 AS deps',
    'RUN apt-get update',
    'FROM deps AS test',
    'RUN apt-get install -y chromium',
    'FROM busybox AS app',
    'COPY --from=deps /x /x',
  ].join('\n');

  test('findings in a stage the target does not build are info, saying so', async () => {
    const fs = await run(df);
    assert.deepEqual(
      fs.map((f) => [f.line, f.severity, f.stage]),
      [
        [2, 'warning', 'deps'],
        [4, 'info', 'test'],
        [5, 'warning', 'app'],
      ],
    );
    assert.match(fs[1]!.message, /\(stage test is not built for the default target\)$/);
    const t = await run(df, NODE, { target: 'test' });
    assert.deepEqual(
      t.map((f) => [f.line, f.severity]),
      [
        [2, 'warning'],
        [4, 'warning'],
        [5, 'info'],
      ],
    );
    assert.match(t[2]!.message, /not built for target test/);
  });

  test('an unknown target is an error naming it', async () => {
    await assert.rejects(run(df, NODE, { target: 'nope' }), { code: 'target_not_found', message: /"nope"/ });
  });
});
