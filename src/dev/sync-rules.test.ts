import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DepotError } from '../errors/index.js';
import {
  type AutoRuleOptions,
  deriveAutoRules,
  loadSyncConfig,
  localPathFacts,
  MAX_SYNC_PATHS,
  mergeSyncSettings,
  type PathFacts,
  parseSyncConfig,
  parseSyncFlags,
  planSync,
  syncRequested,
} from './sync-rules.js';
import type { SyncSettings } from './sync-types.js';

const CTX = '/work/ctx';
const flags = (
  sync: string[],
  more: { syncExec?: string; syncRestart?: boolean; rebuildOn?: string[] } = {},
) => parseSyncFlags({ sync, rebuildOn: more.rebuildOn ?? [], ...more }, CTX);

/** Asserts `fn` throws a DepotError with `code` and returns its message and hint. */
function rejects(fn: () => unknown, code = 'invalid_flag'): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DepotError, String(err));
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.hint, 'a hint');
    return `${err.message} (${err.hint})`;
  }
  assert.fail('did not throw');
}

describe('--sync flags', () => {
  test('SRC:DEST rules are normalized; companions kept', () => {
    const r = flags(['./src/:/app/src/', '.:/app', 'a/../b.txt:/etc/b.txt'], {
      syncExec: 'kill -HUP 1',
      syncRestart: true,
      rebuildOn: ['package-lock.json', '**/go.sum', 'package-lock.json'],
    });
    assert.equal(r.auto, false);
    assert.deepEqual(r.settings, {
      rules: [
        { src: 'src', dest: '/app/src', origin: '--sync' },
        { src: '', dest: '/app', origin: '--sync' },
        { src: 'b.txt', dest: '/etc/b.txt', origin: '--sync' },
      ],
      exec: 'kill -HUP 1',
      restart: true,
      rebuildOn: ['package-lock.json', '**/go.sum'],
    });
  });

  test('auto alone', () => {
    assert.deepEqual(flags(['auto']), { auto: true, settings: { rules: [], restart: false, rebuildOn: [] } });
    assert.match(
      rejects(() => flags(['auto', 'src:/app'])),
      /--sync auto cannot be combined/,
    );
  });

  test('each bad input is one line with a hint', () => {
    assert.match(
      rejects(() => flags(['../x:/app'])),
      /outside the context/,
    );
    assert.match(
      rejects(() => flags(['src/../../x:/app'])),
      /outside the context/,
    );
    assert.match(
      rejects(() => flags(['/etc:/app'])),
      /is absolute/,
    );
    assert.match(
      rejects(() => flags([':/app'])),
      /source is empty/,
    );
    assert.match(
      rejects(() => flags(['src'])),
      /has no destination/,
    );
    assert.match(
      rejects(() => flags(['src:app'])),
      /not absolute/,
    );
    assert.match(
      rejects(() => flags(['src:/'])),
      /container's root/,
    );
    assert.match(
      rejects(() => flags(['src:///'])),
      /container's root/,
    );
    assert.match(
      rejects(() => flags(['src:/app/../etc'])),
      /not normalized \(write \/etc\)/,
    );
    assert.match(
      rejects(() => flags(['src:/app//x'])),
      /not normalized/,
    );
    assert.match(
      rejects(() => flags(['src:/a', 'src/:/b'])),
      /already synced to \/a/,
    );
    assert.match(
      rejects(() => flags([], { syncExec: '  ' })),
      /--sync-exec is empty/,
    );
    assert.match(
      rejects(() => flags([], { rebuildOn: ['[a'] })),
      /--rebuild-on: bad pattern "\[a"/,
    );
    assert.match(
      rejects(() => flags([], { rebuildOn: [''] })),
      /empty pattern/,
    );
  });
});

describe('depot.json', () => {
  const parse = (json: unknown) => parseSyncConfig(JSON.stringify(json), '/p/depot.json', '/p');

  test('the dev settings, strings and objects', () => {
    assert.deepEqual(
      parse({
        other: 1,
        dev: {
          sync: ['src:/app/src', { src: 'public/', dest: '/app/public' }],
          syncExec: 'touch /tmp/reload',
          syncRestart: true,
          rebuildOn: ['package-lock.json'],
        },
      }),
      {
        auto: false,
        settings: {
          rules: [
            { src: 'src', dest: '/app/src', origin: 'depot.json' },
            { src: 'public', dest: '/app/public', origin: 'depot.json' },
          ],
          exec: 'touch /tmp/reload',
          restart: true,
          rebuildOn: ['package-lock.json'],
        },
      },
    );
    assert.equal(parse({ other: 1 }), undefined);
    assert.equal(parse({ dev: { sync: ['auto'] } })?.auto, true);
  });

  test('an unknown key is named; bad values say where', () => {
    assert.match(
      rejects(() => parse({ dev: { sycn: [] } }), 'invalid_config'),
      /\/p\/depot\.json: unknown key dev\.sycn/,
    );
    assert.match(
      rejects(() => parse({ dev: { sync: [{ src: 'a', dest: '/a', mode: 1 }] } }), 'invalid_config'),
      /unknown key dev\.sync\.0\.mode/,
    );
    assert.match(
      rejects(() => parse({ dev: { syncRestart: 'yes' } }), 'invalid_config'),
      /dev\.syncRestart: /,
    );
    assert.match(
      rejects(() => parse({ dev: { sync: ['../up:/app'] } }), 'invalid_config'),
      /depot\.json: dev\.sync "\.\.\/up:\/app": the source .* is outside the context/,
    );
    assert.match(
      rejects(() => parseSyncConfig('{"dev": ', '/p/depot.json', '/p'), 'invalid_config'),
      /not valid JSON/,
    );
    assert.match(
      rejects(() => parse([1]), 'invalid_config'),
      /not a JSON object/,
    );
  });

  test('read from the context directory; absent file is no settings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'depot-sync-'));
    try {
      assert.equal(await loadSyncConfig(dir), undefined);
      await writeFile(join(dir, 'depot.json'), JSON.stringify({ dev: { sync: ['.:/app'] } }));
      assert.deepEqual((await loadSyncConfig(dir))?.settings.rules, [
        { src: '', dest: '/app', origin: 'depot.json' },
      ]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test('flags replace the rules and exec, add rebuild-on patterns, turn restart on', () => {
    const config = parse({
      dev: { sync: ['src:/app/src'], syncExec: 'a', syncRestart: true, rebuildOn: ['package-lock.json'] },
    });
    const none = flags([], { rebuildOn: ['go.sum'] });
    const merged = mergeSyncSettings(config, none);
    assert.deepEqual(merged.settings, {
      rules: [{ src: 'src', dest: '/app/src', origin: 'depot.json' }],
      exec: 'a',
      restart: true,
      rebuildOn: ['package-lock.json', 'go.sum'],
    });
    const auto = mergeSyncSettings(config, flags(['auto'], { syncExec: 'b' }));
    assert.equal(auto.auto, true);
    assert.deepEqual(auto.settings.rules, []);
    assert.equal(auto.settings.exec, 'b');
    assert.deepEqual(mergeSyncSettings(config, flags(['lib:/lib/x'])).settings.rules, [
      { src: 'lib', dest: '/lib/x', origin: '--sync' },
    ]);
    const plain = flags(['src:/app/src']);
    assert.deepEqual(mergeSyncSettings(undefined, plain), plain);
    assert.equal(syncRequested(mergeSyncSettings(undefined, flags([]))), false);
    assert.equal(syncRequested(auto), true);
    // A companion with no rule to serve is a mistake, wherever it comes from.
    assert.match(
      rejects(() => mergeSyncSettings(undefined, none)),
      /need sync rules/,
    );
    assert.match(
      rejects(() => mergeSyncSettings(parse({ dev: { syncRestart: true } }), flags([]))),
      /need sync rules \(add --sync SRC:DEST or --sync auto/,
    );
  });
});

describe('--sync auto from the Dockerfile', () => {
  const derive = (lines: string[], options: Partial<AutoRuleOptions> = {}) =>
    deriveAutoRules(lines.join('\n'), { buildArgs: {}, ...options });

  test('the COPYs after the last RUN of the final stage, WORKDIR-relative destinations resolved', () => {
    const r = derive(
      [
        'FROM node:20 AS deps',
        'WORKDIR /app',
        'COPY package.json package-lock.json ./',
        'RUN npm ci',
        'FROM deps',
        'COPY package.json ./',
        'RUN npm run build',
        'COPY src/ ./src/',
        'COPY --chown=1000:100 --chmod=640 config.yml /etc/app/',
        'COPY --chown=1000 public /srv/public',
        'CMD ["node", "src/index.js"]',
      ],
      { contextFiles: ['package.json', 'src/index.js', 'config.yml', 'public/index.html'] },
    );
    assert.deepEqual(r.rules, [
      { src: 'src', dest: '/app/src', origin: 'Dockerfile:8' },
      {
        src: 'config.yml',
        dest: '/etc/app/config.yml',
        uid: 1000,
        gid: 100,
        mode: 0o640,
        origin: 'Dockerfile:9',
      },
      { src: 'public', dest: '/srv/public', uid: 1000, gid: 1000, origin: 'Dockerfile:10' },
    ]);
    assert.deepEqual(r.refused, [
      {
        origin: 'Dockerfile:6',
        instruction: 'COPY package.json ./',
        reason: 'the RUN at line 7 comes after it and may read what it copies',
      },
    ]);
  });

  test('COPY . /app after every RUN; a target stage; variables', () => {
    assert.deepEqual(derive(['FROM busybox', 'RUN true', 'COPY . /app']).rules, [
      { src: '', dest: '/app', origin: 'Dockerfile:3' },
    ]);
    const df = [
      'ARG DIR=/srv',
      'FROM busybox AS dev',
      'ARG DIR',
      'ENV SUB=web',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text
      'COPY src/ ${DIR}/${SUB}/',
      'FROM busybox',
      'RUN true',
    ];
    assert.deepEqual(derive(df, { target: 'dev' }).rules, [
      { src: 'src', dest: '/srv/web', origin: 'Dockerfile:5' },
    ]);
    assert.deepEqual(derive(df, { target: 'DEV', buildArgs: { DIR: '/opt' } }).rules, [
      { src: 'src', dest: '/opt/web', origin: 'Dockerfile:5' },
    ]);
    assert.deepEqual(derive(df).rules, []);
    assert.match(derive(df, { target: 'nope' }).refused[0]!.reason, /no stage named "nope"/);
  });

  test('a stage inherits its parent stage WORKDIR; an image base leaves a relative destination unknown', () => {
    assert.deepEqual(
      derive(['FROM busybox AS a', 'WORKDIR /w', 'FROM a', 'WORKDIR sub', 'COPY src/ x/']).rules,
      [{ src: 'src', dest: '/w/sub/x', origin: 'Dockerfile:5' }],
    );
    const r = derive(['FROM node:20', 'COPY src/ ./src/']);
    assert.deepEqual(r.rules, []);
    assert.match(
      r.refused[0]!.reason,
      /relative and the base image's working directory decides \(add a WORKDIR\)/,
    );
    assert.match(
      derive(['FROM node:20', 'COPY src/ $HOME/src/']).refused[0]!.reason,
      /names a variable only the build can resolve/,
    );
  });

  test('JSON form, --link, ADD of a directory, COPY . . in the WORKDIR', () => {
    assert.deepEqual(
      derive([
        'FROM busybox',
        'WORKDIR /app',
        'RUN true',
        'COPY --link ["web dir/", "/srv/web/"]',
        'ADD static/ /srv/static/',
        'COPY . .',
      ]).rules,
      [
        { src: 'web dir', dest: '/srv/web', origin: 'Dockerfile:4' },
        { src: 'static', dest: '/srv/static', origin: 'Dockerfile:5' },
        { src: '', dest: '/app', origin: 'Dockerfile:6' },
        // COPY . . copies them into /app too.
        { src: 'web dir', dest: '/app/web dir', origin: 'Dockerfile:6' },
        { src: 'static', dest: '/app/static', origin: 'Dockerfile:6' },
      ],
    );
    // The Dockerfile's name in origins.
    assert.equal(
      derive(['FROM busybox', 'COPY . /app'], { dockerfileName: 'web.Dockerfile' }).rules[0]!.origin,
      'web.Dockerfile:2',
    );
  });

  test('a file or a directory: where it lands; unknown without the context files', () => {
    const files = ['a.txt', 'lib/x.js', 'web/index.html', 'web/app.js'];
    assert.deepEqual(derive(['FROM busybox', 'COPY a.txt lib /app/'], { contextFiles: files }).rules, [
      { src: 'a.txt', dest: '/app/a.txt', origin: 'Dockerfile:2' },
      { src: 'lib', dest: '/app', origin: 'Dockerfile:2' },
    ]);
    assert.deepEqual(derive(['FROM busybox', 'COPY a.txt /app/b.txt']).rules, [
      { src: 'a.txt', dest: '/app/b.txt', origin: 'Dockerfile:2' },
    ]);
    // WORKDIR made /app a directory: the file goes in it.
    assert.deepEqual(
      derive(['FROM busybox', 'WORKDIR /app', 'COPY a.txt /app'], { contextFiles: files }).rules,
      [{ src: 'a.txt', dest: '/app/a.txt', origin: 'Dockerfile:3' }],
    );
    assert.match(derive(['FROM busybox', 'COPY a.txt /app/']).refused[0]!.reason, /file or a directory/);
    assert.match(
      derive(['FROM busybox', 'COPY missing /app/'], { contextFiles: files }).refused[0]!.reason,
      /not in the context/,
    );
    // Simple wildcards expand over the context's files; new matches later are not covered (rebuild).
    assert.deepEqual(derive(['FROM busybox', 'COPY *.txt w* /app/'], { contextFiles: files }).rules, [
      { src: 'a.txt', dest: '/app/a.txt', origin: 'Dockerfile:2' },
      { src: 'web', dest: '/app', origin: 'Dockerfile:2' },
    ]);
    assert.match(derive(['FROM busybox', 'COPY *.txt /app/']).refused[0]!.reason, /wildcard/);
    assert.match(
      derive(['FROM busybox', 'COPY [ab].txt /app/'], { contextFiles: files }).refused[0]!.reason,
      /wildcard beyond/,
    );
  });

  test('what is refused, with reasons; what is not from the context is neither', () => {
    const r = derive([
      'FROM busybox AS b',
      'FROM busybox',
      'COPY --chown=app:app src/ /app/src/',
      'COPY --chmod=u+x bin/ /app/bin/',
      'COPY --parents a/ /app/p/',
      'ADD vendor.tar.gz /opt/',
      'ADD https://example.com/x.txt /opt/x.txt',
      'COPY --from=b /x /x',
      'COPY <<EOF /etc/motd\nhi\nEOF',
      'COPY ../up/ /up/',
      'COPY conf/ /',
      'COPY ["web/", "/srv/it\'s/"]',
    ]);
    assert.deepEqual(r.rules, []);
    assert.deepEqual(
      r.refused.map((x) => [x.origin, x.reason]),
      [
        [
          'Dockerfile:3',
          "--chown=app:app names a user or group: only the image's /etc/passwd can resolve it (use numeric ids, e.g. --chown=1000:1000)",
        ],
        ['Dockerfile:4', '--chmod=u+x is not an octal mode'],
        ['Dockerfile:5', '--parents changes what is copied where (not synced)'],
        ['Dockerfile:6', 'ADD unpacks archives: vendor.tar.gz may be one (use COPY for files)'],
        ['Dockerfile:12', 'its source "../up/" leaves the context'],
        ['Dockerfile:13', 'it copies into / (sync rules need a directory below /)'],
        ['Dockerfile:14', 'its destination "/srv/it\'s/" holds a backslash or quote'],
      ],
    );
    assert.match(
      derive(['# syntax=docker/dockerfile:1', 'FROM busybox', 'COPY . /app']).refused[0]!.reason,
      /syntax/,
    );
  });

  test('what the rest of the build reads rebuilds: an install before the last RUN, the stages the image needs', () => {
    const node = derive([
      'FROM node:20',
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN npm ci',
      'COPY . .',
    ]);
    assert.deepEqual(node.rules, [{ src: '', dest: '/app', origin: 'Dockerfile:5' }]);
    assert.deepEqual(node.buildReads, [
      { pattern: 'package.json', origin: 'Dockerfile:3' },
      { pattern: 'package-lock.json', origin: 'Dockerfile:3' },
    ]);
    const settings: SyncSettings = {
      rules: node.rules,
      restart: false,
      rebuildOn: [],
      buildReads: node.buildReads,
    };
    const facts = (): PathFacts => ({ type: 'file', mode: 0o100644 });
    assert.deepEqual(planSync(settings, ['src/a.js'], facts, { contextDir: '/c' }), {
      kind: 'sync',
      changes: [{ kind: 'file', dest: '/app/src/a.js', source: '/c/src/a.js', mode: 0o644, uid: 0, gid: 0 }],
    });
    assert.deepEqual(planSync(settings, ['src/a.js', 'package.json'], facts, { contextDir: '/c' }), {
      kind: 'rebuild',
      reason: 'package.json is read by Dockerfile:3 too',
    });

    const stages = derive([
      'FROM node:20 AS build',
      'WORKDIR /b',
      'COPY tsconfig.json ./',
      'RUN --mount=type=bind,source=scripts,target=/s true',
      'COPY src/ ./src/',
      'RUN tsc',
      'FROM busybox AS tools',
      'COPY tools/ /tools/',
      'FROM busybox AS test',
      'COPY . /t',
      'COPY $UNKNOWN /u',
      'FROM busybox',
      'RUN --mount=from=tools,target=/tools true',
      'COPY --from=build /b/dist /app/dist',
      'COPY . /app',
    ]);
    assert.deepEqual(stages.rules, [{ src: '', dest: '/app', origin: 'Dockerfile:15' }]);
    // The test stage is not built for this image: neither its reads nor its unknown source count.
    assert.deepEqual(stages.buildReads, [
      { pattern: 'tsconfig.json', origin: 'Dockerfile:3' },
      { pattern: 'scripts', origin: 'Dockerfile:4' },
      { pattern: 'src', origin: 'Dockerfile:5' },
      { pattern: 'tools', origin: 'Dockerfile:8' },
    ]);
    const plan = (paths: string[]) =>
      planSync(
        { rules: stages.rules, restart: false, rebuildOn: [], buildReads: stages.buildReads },
        paths,
        facts,
        {
          contextDir: '/c',
        },
      );
    assert.deepEqual(plan(['src/deep/a.ts']), {
      kind: 'rebuild',
      reason: 'src/deep/a.ts is read by Dockerfile:5 too',
    });
    assert.deepEqual(plan(['tools/x']), { kind: 'rebuild', reason: 'tools/x is read by Dockerfile:8 too' });
    assert.equal(plan(['README.md', 'srcs/x']).kind, 'sync');
  });

  test('a path the image needs that depot cannot know refuses every rule', () => {
    const r = derive([
      'FROM busybox AS build',
      'COPY bin/$TARGETARCH /bin/',
      'RUN true',
      'FROM busybox',
      'COPY --from=0 /bin /bin',
      'COPY . /app',
    ]);
    assert.deepEqual(r.rules, []);
    assert.match(r.refused[0]!.reason, /^Dockerfile:2 reads a path depot cannot know \(.*TARGETARCH/);
    // A COPY --from naming a variable may need any stage.
    assert.deepEqual(
      derive(['FROM busybox AS a', 'COPY x /x', 'FROM busybox', 'COPY --from=$S /x /y', 'COPY . /app'])
        .buildReads,
      [{ pattern: 'x', origin: 'Dockerfile:2' }],
    );
  });

  test('a path two kept COPYs copy lands in both places', () => {
    const r = derive(['FROM busybox', 'COPY --chown=1:2 . /app', 'COPY conf/ /etc/app/', 'COPY conf/x/ /x/']);
    assert.deepEqual(r.rules, [
      { src: '', dest: '/app', uid: 1, gid: 2, origin: 'Dockerfile:2' },
      { src: 'conf', dest: '/etc/app', origin: 'Dockerfile:3' },
      { src: 'conf/x', dest: '/x', origin: 'Dockerfile:4' },
      { src: 'conf', dest: '/app/conf', uid: 1, gid: 2, origin: 'Dockerfile:2' },
      { src: 'conf/x', dest: '/app/conf/x', uid: 1, gid: 2, origin: 'Dockerfile:2' },
      { src: 'conf/x', dest: '/etc/app/x', origin: 'Dockerfile:3' },
    ]);
    const plan = planSync(
      { rules: r.rules, restart: false, rebuildOn: [] },
      ['conf/x/y', 'conf/z'],
      () => undefined,
      {
        contextDir: '/c',
      },
    );
    assert.deepEqual(plan, {
      kind: 'sync',
      changes: [
        { kind: 'delete', dest: '/x/y' },
        { kind: 'delete', dest: '/app/conf/x/y' },
        { kind: 'delete', dest: '/etc/app/x/y' },
        { kind: 'delete', dest: '/etc/app/z' },
        { kind: 'delete', dest: '/app/conf/z' },
      ],
    });
  });

  test('a later COPY writing into a rule refuses the earlier one', () => {
    const r = derive(
      [
        'FROM busybox AS b',
        'FROM busybox',
        'RUN true',
        'COPY . /app',
        'COPY src/ /srv/src/',
        'COPY --from=b /dist /app/dist',
        'COPY other/ /srv/other/',
      ],
      { contextFiles: ['src/a.js', 'other/b.js'] },
    );
    assert.deepEqual(r.rules, [
      { src: 'src', dest: '/srv/src', origin: 'Dockerfile:5' },
      { src: 'other', dest: '/srv/other', origin: 'Dockerfile:7' },
    ]);
    assert.deepEqual(r.refused, [
      {
        origin: 'Dockerfile:4',
        instruction: 'COPY . /app',
        reason: 'the COPY at line 6 writes into what it copies',
      },
    ]);
    // A sibling file copied later does not overlap the directory rule.
    assert.deepEqual(
      derive(['FROM busybox', 'COPY src/ /app/src/', 'COPY a.txt /app/'], {
        contextFiles: ['a.txt', 'src/x'],
      }).rules.length,
      2,
    );
  });
});

describe('planSync', () => {
  const settings = (rules: SyncSettings['rules'], rebuildOn: string[] = []): SyncSettings => ({
    rules,
    restart: false,
    rebuildOn,
  });
  const base = settings([
    { src: '', dest: '/app', origin: '--sync' },
    { src: 'src', dest: '/srv/src', uid: 1000, gid: 1000, origin: '--sync' },
    { src: 'bin', dest: '/usr/local/bin', mode: 0o755, origin: '--sync' },
    { src: 'conf/app.yml', dest: '/etc/app.yml', origin: '--sync' },
  ]);
  const fs: Record<string, PathFacts> = {
    'src/a.js': { type: 'file', mode: 0o100644 },
    'src/new': { type: 'dir', mode: 0o40750 },
    'src/link': { type: 'symlink', mode: 0o120777, target: '../x' },
    'bin/tool': { type: 'file', mode: 0o100600 },
    'conf/app.yml': { type: 'file', mode: 0o100640 },
    'README.md': { type: 'file', mode: 0o100644 },
    lnk: { type: 'symlink', mode: 0o120777, target: 'x' },
  };
  const plan = (s: SyncSettings, paths: string[], dockerfile?: string) =>
    planSync(s, paths, (p) => fs[p], { contextDir: '/ctx', ...(dockerfile ? { dockerfile } : {}) });

  test('each path by its longest rule: files, links, directories, deletions', () => {
    assert.deepEqual(
      plan(base, [
        'src/a.js',
        './src/new/',
        'src/link',
        'src/gone.js',
        'bin/tool',
        'conf/app.yml',
        'README.md',
      ]),
      {
        kind: 'sync',
        changes: [
          { kind: 'file', dest: '/srv/src/a.js', source: '/ctx/src/a.js', mode: 0o644, uid: 1000, gid: 1000 },
          { kind: 'dir', dest: '/srv/src/new', mode: 0o750, uid: 1000, gid: 1000 },
          { kind: 'symlink', dest: '/srv/src/link', target: '../x', uid: 1000, gid: 1000 },
          { kind: 'delete', dest: '/srv/src/gone.js' },
          { kind: 'file', dest: '/usr/local/bin/tool', source: '/ctx/bin/tool', mode: 0o755, uid: 0, gid: 0 },
          { kind: 'file', dest: '/etc/app.yml', source: '/ctx/conf/app.yml', mode: 0o640, uid: 0, gid: 0 },
          { kind: 'file', dest: '/app/README.md', source: '/ctx/README.md', mode: 0o644, uid: 0, gid: 0 },
        ],
      },
    );
    assert.deepEqual(plan(base, []), { kind: 'sync', changes: [] });
  });

  test('the longest source wins whatever the order of the rules', () => {
    const reversed = settings([
      { src: 'src/deep', dest: '/deep', origin: '--sync' },
      { src: 'src', dest: '/s', origin: '--sync' },
      { src: '', dest: '/all', origin: '--sync' },
    ]);
    assert.deepEqual(plan(reversed, ['src/deep/x', 'src/y', 'z']), {
      kind: 'sync',
      changes: [
        { kind: 'delete', dest: '/deep/x' },
        { kind: 'delete', dest: '/s/y' },
        { kind: 'delete', dest: '/all/z' },
      ],
    });
    // A name that merely starts like a source is not under it.
    assert.deepEqual(plan(settings([{ src: 'src', dest: '/s', origin: '--sync' }]), ['srcs/a']), {
      kind: 'rebuild',
      reason: 'srcs/a is not covered by a sync rule',
    });
  });

  test('rules sharing a source all apply', () => {
    const twice = settings([
      { src: 'src', dest: '/a', origin: 'Dockerfile:3' },
      { src: 'src', dest: '/b', origin: 'Dockerfile:4' },
    ]);
    assert.deepEqual(plan(twice, ['src/gone']).kind === 'sync' && plan(twice, ['src/gone']), {
      kind: 'sync',
      changes: [
        { kind: 'delete', dest: '/a/gone' },
        { kind: 'delete', dest: '/b/gone' },
      ],
    });
  });

  test('rebuilds, with the reason', () => {
    const only = settings(
      [{ src: 'src', dest: '/app/src', origin: '--sync' }],
      ['package-lock.json', '**/go.sum'],
    );
    assert.deepEqual(plan(only, ['src/a.js', 'package-lock.json']), {
      kind: 'rebuild',
      reason: 'package-lock.json matches --rebuild-on',
    });
    assert.equal(plan(only, ['src/a.js', 'mod/go.sum']).kind, 'rebuild');
    // Patterns are anchored at the context root, as in .dockerignore.
    assert.deepEqual(plan(only, ['web/package-lock.json']), {
      kind: 'rebuild',
      reason: 'web/package-lock.json is not covered by a sync rule',
    });
    assert.deepEqual(plan(base, ['Dockerfile']), { kind: 'rebuild', reason: 'Dockerfile changed' });
    assert.deepEqual(plan(base, ['docker/web.Dockerfile'], 'docker/web.Dockerfile'), {
      kind: 'rebuild',
      reason: 'docker/web.Dockerfile changed',
    });
    assert.deepEqual(plan(base, ['.dockerignore']), { kind: 'rebuild', reason: '.dockerignore changed' });
    assert.match((plan(base, ['depot.json']) as { reason: string }).reason, /depot\.json changed/);
    assert.deepEqual(plan(base, ['conf/app.yml', 'src']), {
      kind: 'rebuild',
      reason: "src was deleted and is a sync rule's source",
    });
    assert.deepEqual(plan(settings([{ src: 'lnk', dest: '/x', origin: '--sync' }]), ['lnk']), {
      kind: 'rebuild',
      reason: "lnk is a symlink and a sync rule's source",
    });
    const many = Array.from({ length: MAX_SYNC_PATHS + 1 }, (_, i) => `src/f${i}`);
    assert.match(
      (plan(base, many) as { reason: string }).reason,
      /^1001 paths changed at once \(more than 1000\)/,
    );
    assert.equal(plan(base, many.slice(1)).kind, 'sync');
  });
});

describe('localPathFacts', () => {
  test('files, links, directories, gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'depot-facts-'));
    try {
      await mkdir(join(dir, 'src'));
      await writeFile(join(dir, 'src/a.sh'), 'echo');
      await chmod(join(dir, 'src/a.sh'), 0o750);
      await symlink('a.sh', join(dir, 'src/link'));
      const look = localPathFacts(dir);
      assert.deepEqual(look('src/a.sh')?.type, 'file');
      assert.equal(look('src/a.sh')!.mode & 0o7777, 0o750);
      assert.deepEqual(look('src/link') && { ...look('src/link'), mode: 0 }, {
        type: 'symlink',
        mode: 0,
        target: 'a.sh',
      });
      assert.equal(look('src')?.type, 'dir');
      assert.equal(look('src/gone'), undefined);
      assert.equal(look('src/a.sh/under'), undefined);
      const plan = planSync(
        { rules: [{ src: 'src', dest: '/app', origin: '--sync' }], restart: false, rebuildOn: [] },
        ['src/a.sh', 'src/gone'],
        look,
        { contextDir: dir },
      );
      assert.deepEqual(plan, {
        kind: 'sync',
        changes: [
          { kind: 'file', dest: '/app/a.sh', source: join(dir, 'src/a.sh'), mode: 0o750, uid: 0, gid: 0 },
          { kind: 'delete', dest: '/app/gone' },
        ],
      });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
