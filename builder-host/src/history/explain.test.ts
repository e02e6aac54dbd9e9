import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildArgFingerprint,
  createStepExplainer,
  createStepLabeler,
  type ExplainInput,
  explainStep,
  MAX_PATHS,
  type StepCause,
} from './explain.js';

// Lines:                                                  //  1
const APP = `# syntax=docker/dockerfile:1
ARG NODE_VERSION=20
FROM node:\${NODE_VERSION}-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json* ./
RUN npm ci

FROM deps AS build
ARG VERSION=dev
ENV NODE_ENV=production
COPY src/ ./src
COPY *.config.js ./
RUN npm run build -- --define VERSION=\${VERSION}

FROM busybox:1.36
WORKDIR /srv
COPY --from=build /app/dist ./dist
COPY . /srv/context
CMD ["./dist/server"]
`;

const BASES = { 'node:20-alpine': `sha256:${'a'.repeat(64)}`, 'busybox:1.36': `sha256:${'b'.repeat(64)}` };

function input(overrides: Partial<ExplainInput> & { name: string }): ExplainInput {
  const { name, ...rest } = overrides;
  return {
    project: 'app',
    noCache: false,
    previous: { dockerfile: APP, buildArgs: { VERSION: '1.1.0' }, baseImages: { ...BASES }, steps: [] },
    snapshotDiff: { added: [], changed: [], removed: [] },
    dockerfile: APP,
    buildArgs: { VERSION: '1.1.0' },
    baseImages: { ...BASES },
    step: { digest: 'sha256:step', name, everCached: false },
    ...rest,
  };
}

function diff(d: Partial<ExplainInput['snapshotDiff']>): ExplainInput['snapshotDiff'] {
  return { added: [], changed: [], removed: [], ...d };
}

const pick = (c: StepCause) => ({ kind: c.kind, text: c.text });

test('--no-cache wins over everything, even a first build', () => {
  const c = explainStep(input({ name: '[deps 4/4] RUN npm ci', noCache: true, previous: undefined }));
  assert.deepEqual(c, {
    kind: 'no_cache',
    paths: [],
    morePaths: 0,
    name: '',
    line: 0,
    digest: '',
    text: '--no-cache',
  });
});

test('no previous build: first_build', () => {
  const c = explainStep(input({ name: '[deps 4/4] RUN npm ci', previous: undefined }));
  assert.deepEqual(pick(c), { kind: 'first_build', text: 'first build of project app' });
});

test('evicted only with evidence: same digest in the previous build and nothing else explains it', () => {
  const step = { digest: 'sha256:x', name: '[build 1/3] COPY src/ ./src', everCached: true };
  // A COPY of the context keeps its digest when its files change: the files are the cause.
  const files = explainStep(
    input({ name: step.name, step, snapshotDiff: diff({ changed: ['src/app.js'] }) }),
  );
  assert.equal(files.kind, 'changed_files');
  const evicted = explainStep(input({ name: step.name, step }));
  assert.equal(evicted.kind, 'evicted');
  assert.match(evicted.text, /^evicted: /);
  // Without the digest in the previous build there is no evidence.
  assert.equal(explainStep(input({ name: step.name, step: { ...step, everCached: false } })).kind, 'unknown');
  // Following a missed step is a cascade, never an eviction.
  const earlier = explainStep(
    input({ name: '[build 1/3] COPY src/ ./src', snapshotDiff: diff({ changed: ['src/a.js'] }) }),
  );
  const run = '[build 3/3] RUN npm run build -- --define VERSION=1.0.0';
  const after = explainStep(
    input({
      name: run,
      step: { digest: 'sha256:r', name: run, everCached: true },
      earlierCause: { name: '[build 1/3] COPY src/ ./src', cause: earlier },
    }),
  );
  assert.deepEqual([after.kind, after.cascade], ['changed_files', true]);
  assert.match(after.text, /^follows from COPY src\/ \.\/src: src\/a\.js changed/);
});

test('an uncached FROM is never evicted: a new base, or one the engine had to fetch', () => {
  const df = 'FROM busybox:latest\nRUN true\n';
  const name = '[1/2] FROM docker.io/library/busybox:latest';
  const prev = { dockerfile: df, buildArgs: {}, baseImages: { 'busybox:latest': 'sha256:old' }, steps: [] };
  const step = { digest: 'sha256:from', name, everCached: true };
  const fetched = explainStep(input({ name, step, dockerfile: df, previous: prev, baseImages: {} }));
  assert.equal(fetched.kind, 'base_image');
  assert.match(fetched.text, /docker\.io\/library\/busybox:latest was not in the builder's engine/);
  const changed = explainStep(
    input({ name, step, dockerfile: df, previous: prev, baseImages: { 'busybox:latest': 'sha256:new' } }),
  );
  assert.equal(changed.kind, 'base_image');
  assert.match(changed.text, /changed to/);
});

test('first build names the Dockerfile path and target it compares by', () => {
  const name = '[deps 4/4] RUN npm ci';
  assert.equal(
    explainStep(input({ name, previous: undefined, dockerfilePath: 'Dockerfile', target: 'app' })).text,
    'first build of Dockerfile (target app)',
  );
  assert.equal(
    explainStep(input({ name, previous: undefined, dockerfilePath: 'docker/api.Dockerfile', target: '' }))
      .text,
    'first build of docker/api.Dockerfile',
  );
});

test('base image changed: the stage FROM, and through `FROM <stage>`', () => {
  const fresh = `sha256:${'c'.repeat(64)}`;
  const c = explainStep(
    input({ name: '[stage-2 2/4] WORKDIR /srv', baseImages: { ...BASES, 'busybox:1.36': fresh } }),
  );
  assert.equal(c.kind, 'base_image');
  assert.equal(c.digest, fresh);
  assert.equal(c.text, 'base image busybox:1.36 changed to sha256:cccccccccccc…');

  // `build` is FROM deps, deps is FROM node:${NODE_VERSION}-alpine; keys may be fully qualified.
  const viaStage = explainStep(
    input({
      name: '[build 1/3] COPY src/ ./src',
      baseImages: { 'docker.io/library/node:20-alpine': fresh, 'busybox:1.36': BASES['busybox:1.36'] },
      snapshotDiff: diff({ changed: ['src/app.js'] }),
    }),
  );
  assert.deepEqual([viaStage.kind, viaStage.digest], ['base_image', fresh]);
  assert.equal(viaStage.text, 'base image node:20-alpine changed to sha256:cccccccccccc…');

  // A stage on another base is not affected.
  const other = explainStep(
    input({ name: '[deps 4/4] RUN npm ci', baseImages: { ...BASES, 'busybox:1.36': fresh } }),
  );
  assert.equal(other.kind, 'unknown');
});

test('a global ARG in FROM: base_image when ids are known, build_arg when they are not', () => {
  const node22 = `sha256:${'d'.repeat(64)}`;
  const c = explainStep(
    input({
      name: '[deps 2/4] WORKDIR /app',
      buildArgs: { VERSION: '1.1.0', NODE_VERSION: '22' },
      baseImages: { 'node:22-alpine': node22, 'busybox:1.36': BASES['busybox:1.36'] },
    }),
  );
  assert.deepEqual(
    [c.kind, c.digest, c.text],
    ['base_image', node22, 'base image node:22-alpine changed to sha256:dddddddddddd…'],
  );

  const unknownIds = explainStep(
    input({
      name: '[deps 2/4] WORKDIR /app',
      buildArgs: { VERSION: '1.1.0', NODE_VERSION: '22' },
      baseImages: {},
    }),
  );
  assert.deepEqual(
    [unknownIds.kind, unknownIds.name, unknownIds.text],
    ['build_arg', 'NODE_VERSION', 'build-arg NODE_VERSION changed'],
  );
});

test('the step instruction edited: dockerfile_changed with its line in the new Dockerfile', () => {
  const edited = APP.replace('RUN npm ci\n', 'RUN npm ci --omit=dev\n');
  const c = explainStep(input({ name: '[deps 4/4] RUN npm ci --omit=dev', dockerfile: edited }));
  assert.deepEqual([c.kind, c.line, c.text], ['dockerfile_changed', 6, 'Dockerfile line 6 changed']);
});

test('an inserted instruction is new; the ones below it are aligned, not shifted', () => {
  const inserted = APP.replace('WORKDIR /app\n', 'WORKDIR /app\nRUN apk add --no-cache git\n');
  const self = explainStep(input({ name: '[deps 3/5] RUN apk add --no-cache git', dockerfile: inserted }));
  assert.deepEqual([self.kind, self.line], ['dockerfile_changed', 5]);

  // COPY moved from 3/4 to 4/5 but its text is unchanged: it missed because the RUN above did.
  const below = explainStep(
    input({
      name: '[deps 4/5] COPY package.json package-lock.json* ./',
      dockerfile: inserted,
      earlierCause: { name: '[deps 3/5] RUN apk add --no-cache git', cause: self },
    }),
  );
  assert.deepEqual(
    [below.kind, below.line, below.text],
    ['dockerfile_changed', 5, 'follows from RUN apk add --no-cache git: Dockerfile line 5 changed'],
  );
});

test('an edited ENV above a RUN is a Dockerfile change for that RUN, not for a COPY', () => {
  const edited = APP.replace('ENV NODE_ENV=production', 'ENV NODE_ENV=staging');
  const run = explainStep(
    input({ name: '[build 3/3] RUN npm run build -- --define VERSION=1.1.0', dockerfile: edited }),
  );
  assert.deepEqual([run.kind, run.line], ['dockerfile_changed', 10]);
  const copy = explainStep(input({ name: '[build 1/3] COPY src/ ./src', dockerfile: edited }));
  assert.equal(copy.kind, 'unknown');
});

test('a multi-line RUN --mount matches its vertex name; editing it reports its first line', () => {
  const go = (cmd: string) => `FROM golang:1.22 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/.cache/go-build \\
    --mount=type=cache,target=/go/pkg/mod \\
    ${cmd}

FROM gcr.io/distroless/static
COPY --from=build /out/app /app
`;
  const before = go('go build -o /out/app ./cmd/app');
  const after = go('go build -trimpath -o /out/app ./cmd/app');
  const name =
    '[build 4/4] RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go build -trimpath -o /out/app ./cmd/app';
  const c = explainStep(
    input({
      name,
      dockerfile: after,
      baseImages: {},
      previous: { dockerfile: before, buildArgs: {}, baseImages: {}, steps: [] },
      buildArgs: {},
    }),
  );
  assert.deepEqual([c.kind, c.line], ['dockerfile_changed', 4]);

  // Same Dockerfile: nothing about the RUN itself changed.
  const same = explainStep(
    input({
      name: name.replace('-trimpath ', ''),
      dockerfile: before,
      baseImages: {},
      previous: { dockerfile: before, buildArgs: {}, baseImages: {}, steps: [] },
      buildArgs: {},
    }),
  );
  assert.equal(same.kind, 'unknown');
});

test('a changed FROM that is its own step, with no image ids known', () => {
  const edited = APP.replace('FROM busybox:1.36', 'FROM busybox:1.37');
  const c = explainStep(
    input({ name: '[stage-2 1/4] FROM docker.io/library/busybox:1.37', dockerfile: edited, baseImages: {} }),
  );
  assert.deepEqual([c.kind, c.line], ['dockerfile_changed', 15]);
});

test('build-arg changed: stage ARG expanded in the RUN name', () => {
  const c = explainStep(
    input({
      name: '[build 3/3] RUN npm run build -- --define VERSION=1.2.0',
      buildArgs: { VERSION: '1.2.0' },
    }),
  );
  assert.deepEqual([c.kind, c.name, c.text], ['build_arg', 'VERSION', 'build-arg VERSION changed']);
  // A COPY does not see the ARG.
  const copy = explainStep(input({ name: '[build 1/3] COPY src/ ./src', buildArgs: { VERSION: '1.2.0' } }));
  assert.equal(copy.kind, 'unknown');
  // An argument the Dockerfile never declares busts nothing.
  const undeclared = explainStep(
    input({ name: '[deps 4/4] RUN npm ci', buildArgs: { VERSION: '1.1.0', EXTRA: 'x' } }),
  );
  assert.equal(undeclared.kind, 'unknown');
  // Falling back to the ARG's default counts as a change too.
  const dropped = explainStep(
    input({ name: '[build 3/3] RUN npm run build -- --define VERSION=dev', buildArgs: {} }),
  );
  assert.deepEqual([dropped.kind, dropped.name], ['build_arg', 'VERSION']);
});

test('build-arg: any RUN after the ARG sees it; $X in other instructions; global default inherited', () => {
  const df = `ARG REGISTRY=docker.io
ARG CHANNEL=stable
FROM alpine:3.20
ARG CACHE_BUST
ARG CHANNEL
ARG SRC_DIR=src
RUN apk update
COPY \${SRC_DIR} /app/src
RUN echo "$CHANNEL" > /channel
`;
  const prev = { dockerfile: df, buildArgs: { CACHE_BUST: '1' }, baseImages: {}, steps: [] };
  const base = { dockerfile: df, previous: prev, baseImages: {} };
  const bust = explainStep(input({ ...base, name: '[2/4] RUN apk update', buildArgs: { CACHE_BUST: '2' } }));
  assert.deepEqual([bust.kind, bust.name], ['build_arg', 'CACHE_BUST']);

  const copy = explainStep(
    input({ ...base, name: '[3/4] COPY lib /app/src', buildArgs: { CACHE_BUST: '1', SRC_DIR: 'lib' } }),
  );
  assert.deepEqual([copy.kind, copy.name], ['build_arg', 'SRC_DIR']);

  // CHANNEL is redeclared without a value in the stage: it takes the global default, then the build-arg.
  const channel = explainStep(
    input({
      ...base,
      name: '[4/4] RUN echo "beta" > /channel',
      buildArgs: { CACHE_BUST: '1', CHANNEL: 'beta' },
    }),
  );
  assert.deepEqual([channel.kind, channel.name], ['build_arg', 'CHANNEL']);

  // REGISTRY is global only (not in FROM, not redeclared): it reaches no step.
  const registry = explainStep(
    input({ ...base, name: '[2/4] RUN apk update', buildArgs: { CACHE_BUST: '1', REGISTRY: 'ghcr.io' } }),
  );
  assert.equal(registry.kind, 'unknown');
});

test('changed files under a COPY directory source', () => {
  const c = explainStep(
    input({
      name: '[build 1/3] COPY src/ ./src',
      snapshotDiff: diff({ changed: ['src/app.js', 'README.md'], added: ['src/lib/b.js', 'src/lib/a.js'] }),
    }),
  );
  assert.deepEqual(c, {
    kind: 'changed_files',
    paths: ['src/app.js', 'src/lib/a.js', 'src/lib/b.js'],
    morePaths: 0,
    name: '',
    line: 0,
    digest: '',
    text: 'src/app.js and 2 more changed under COPY src/ ./src',
  });
});

test('changed files under COPY globs; added/removed wording', () => {
  const lock = explainStep(
    input({
      name: '[deps 3/4] COPY package.json package-lock.json* ./',
      snapshotDiff: diff({ changed: ['package-lock.json', 'src/app.js'] }),
    }),
  );
  assert.deepEqual(pick(lock), {
    kind: 'changed_files',
    text: 'package-lock.json changed under COPY package.json package-lock.json* ./',
  });
  const config = explainStep(
    input({ name: '[build 2/3] COPY *.config.js ./', snapshotDiff: diff({ added: ['vite.config.js'] }) }),
  );
  assert.deepEqual(pick(config), {
    kind: 'changed_files',
    text: 'vite.config.js added under COPY *.config.js ./',
  });
  const gone = explainStep(
    input({ name: '[build 1/3] COPY src/ ./src', snapshotDiff: diff({ removed: ['src/old.js'] }) }),
  );
  assert.equal(gone.text, 'src/old.js removed under COPY src/ ./src');
  // Files outside the sources, and COPY --from, are not this step's cause.
  const outside = explainStep(
    input({ name: '[build 2/3] COPY *.config.js ./', snapshotDiff: diff({ changed: ['src/config.js'] }) }),
  );
  assert.equal(outside.kind, 'unknown');
  const from = explainStep(
    input({
      name: '[stage-2 3/4] COPY --from=build /app/dist ./dist',
      snapshotDiff: diff({ changed: ['dist/x'] }),
    }),
  );
  assert.equal(from.kind, 'unknown');
});

test('`COPY .` covers the whole context; the path list is capped with a count', () => {
  const changed = Array.from({ length: 25 }, (_, i) => `src/f${String(i).padStart(2, '0')}.js`);
  const c = explainStep(
    input({ name: '[stage-2 4/4] COPY . /srv/context', snapshotDiff: diff({ changed }) }),
  );
  assert.equal(c.kind, 'changed_files');
  assert.equal(c.paths.length, MAX_PATHS);
  assert.deepEqual(c.paths, changed.slice(0, 10));
  assert.equal(c.morePaths, 15);
  assert.equal(c.text, 'src/f00.js and 24 more changed under COPY . /srv/context');
});

test('cascade: an earlier miss of the stage explains the step, wrapped', () => {
  const earlier = explainStep(
    input({
      name: '[deps 3/4] COPY package.json package-lock.json* ./',
      snapshotDiff: diff({ changed: ['package.json'] }),
    }),
  );
  const c = explainStep(
    input({
      name: '[deps 4/4] RUN npm ci',
      snapshotDiff: diff({ changed: ['package.json'] }),
      earlierCause: { name: '[deps 3/4] COPY package.json package-lock.json* ./', cause: earlier },
    }),
  );
  assert.equal(c.kind, 'changed_files');
  assert.equal(c.cascade, true);
  assert.equal(earlier.cascade, undefined);
  assert.deepEqual(c.paths, ['package.json']);
  assert.equal(
    c.text,
    'follows from COPY package.json package-lock.json* ./: package.json changed under COPY package.json package-lock.json* ./',
  );
  // The earlier cause is not mutated.
  assert.equal(earlier.text, 'package.json changed under COPY package.json package-lock.json* ./');
});

test('nothing explains it: unknown', () => {
  const c = explainStep(input({ name: '[deps 4/4] RUN npm ci' }));
  assert.deepEqual(c, {
    kind: 'unknown',
    paths: [],
    morePaths: 0,
    name: '',
    line: 0,
    digest: '',
    text: 'cause unknown: no change found in its inputs',
  });
});

test('precedence: base image (first miss only) > Dockerfile > build-arg > changed files > cascade', () => {
  const fresh = `sha256:${'e'.repeat(64)}`;
  const edited = APP.replace('npm run build -- --define', 'npm run build -- --minify --define');
  const name = '[build 3/3] RUN npm run build -- --minify --define VERSION=1.2.0';
  const earlierCause = {
    name: '[build 1/3] COPY src/ ./src',
    cause: explainStep(
      input({ name: '[build 1/3] COPY src/ ./src', snapshotDiff: diff({ changed: ['src/a.js'] }) }),
    ),
  };
  const all = input({
    name,
    dockerfile: edited,
    buildArgs: { VERSION: '1.2.0' },
    baseImages: { ...BASES, 'node:20-alpine': fresh },
    earlierCause,
  });
  assert.equal(explainStep({ ...all, earlierCause: undefined }).kind, 'base_image');
  // After a missed step, a new base image is that step's cause, not this one's.
  assert.equal(explainStep(all).kind, 'dockerfile_changed');
  assert.equal(explainStep({ ...all, dockerfile: APP, buildArgs: { VERSION: '1.1.0' } }).cascade, true);
  assert.equal(explainStep({ ...all, baseImages: { ...BASES } }).kind, 'dockerfile_changed');
  assert.equal(explainStep({ ...all, baseImages: { ...BASES }, dockerfile: APP }).kind, 'build_arg');
  // A COPY whose files changed, with an earlier cascade too: its own files win.
  const copy = input({
    name: '[build 2/3] COPY *.config.js ./',
    snapshotDiff: diff({ changed: ['vite.config.js'] }),
    earlierCause,
  });
  assert.equal(explainStep(copy).kind, 'changed_files');
  assert.equal(explainStep(copy).text, 'vite.config.js changed under COPY *.config.js ./');
  assert.match(
    explainStep({ ...copy, snapshotDiff: diff({}) }).text,
    /^follows from COPY src\/ \.\/src: src\/a\.js/,
  );
});

test('name matching: no stage prefix in a single-stage build, platform prefixes, stage-N, index fallback', () => {
  const single = `FROM node:20
WORKDIR /app
COPY package.json ./
RUN npm ci
COPY . .
RUN npm test
`;
  const prev = { dockerfile: single, buildArgs: {}, baseImages: {}, steps: [] };
  const edited = single.replace('RUN npm test', 'RUN npm test -- --ci');
  const c = explainStep(
    input({
      name: '[5/5] RUN npm test -- --ci',
      dockerfile: edited,
      previous: prev,
      baseImages: {},
      buildArgs: {},
    }),
  );
  assert.deepEqual([c.kind, c.line], ['dockerfile_changed', 6]);

  // Same instruction text in two stages: the stage prefix decides (platform prefix ignored).
  const twin = `FROM alpine:3.20 AS a
RUN make

FROM alpine:3.20 AS b
RUN make
`;
  const twinEdited = twin.replace(/RUN make\n$/, 'RUN make\nRUN make install\n');
  const b = explainStep(
    input({
      name: '[linux/arm64 b 3/3] RUN make install',
      dockerfile: twinEdited,
      previous: { dockerfile: twin, buildArgs: {}, baseImages: {}, steps: [] },
      baseImages: {},
      buildArgs: {},
    }),
  );
  assert.deepEqual([b.kind, b.line], ['dockerfile_changed', 6]);

  // Unnamed stages are stage-N; a heredoc RUN's name is not its text: match on the first line.
  const unnamed = `FROM alpine:3.20
RUN echo one

FROM alpine:3.20
RUN <<EOF
set -e
echo two
EOF
`;
  const heredocEdited = unnamed.replace('echo two', 'echo three');
  const h = explainStep(
    input({
      name: '[stage-1 2/2] RUN <<EOF (set -e...)',
      dockerfile: heredocEdited,
      previous: { dockerfile: unnamed, buildArgs: {}, baseImages: {}, steps: [] },
      baseImages: {},
      buildArgs: {},
    }),
  );
  assert.deepEqual([h.kind, h.line], ['dockerfile_changed', 5]);

  // Text that matches nothing (an expansion we cannot reproduce): fall back to the step index.
  const idx = explainStep(
    input({
      name: '[stage-0 2/2] RUN echo uno',
      dockerfile: unnamed.replace('RUN echo one', 'RUN echo $GREETING'),
      previous: { dockerfile: unnamed, buildArgs: {}, baseImages: {}, steps: [] },
      baseImages: {},
      buildArgs: {},
    }),
  );
  assert.deepEqual([idx.kind, idx.line], ['dockerfile_changed', 2]);
});

test('a new stage is all new; createStepExplainer gives the same answers', () => {
  const withTests = `${APP}
FROM build AS test
RUN npm test
`;
  const inputs = [
    input({ name: '[test 1/1] RUN npm test', dockerfile: withTests }),
    input({ name: '[build 1/3] COPY src/ ./src', snapshotDiff: diff({ changed: ['src/x.ts'] }) }),
    input({ name: '[deps 4/4] RUN npm ci', noCache: true }),
  ];
  const explainer = createStepExplainer();
  for (const i of inputs) assert.deepEqual(explainer.explain(i), explainStep(i));
  // The stage did not exist: its FROM (line 21, no step of its own as it builds on a stage) is new.
  assert.deepEqual([explainStep(inputs[0]!).kind, explainStep(inputs[0]!).line], ['dockerfile_changed', 21]);
});

test('a previous build whose Dockerfile text was not kept: no Dockerfile comparison, the rest still works', () => {
  const prev = {
    dockerfile: undefined,
    buildArgs: { VERSION: '1.1.0' },
    baseImages: { ...BASES },
    steps: [],
  };
  const edited = APP.replace('RUN npm ci\n', 'RUN npm ci --omit=dev\n');
  assert.equal(
    explainStep(input({ name: '[deps 4/4] RUN npm ci --omit=dev', dockerfile: edited, previous: prev })).kind,
    'unknown',
  );
  const arg = explainStep(
    input({
      name: '[build 3/3] RUN npm run build -- --define VERSION=2',
      buildArgs: { VERSION: '2' },
      previous: prev,
    }),
  );
  assert.deepEqual([arg.kind, arg.name], ['build_arg', 'VERSION']);
  const fresh = `sha256:${'f'.repeat(64)}`;
  const base = explainStep(
    input({
      name: '[stage-2 2/4] WORKDIR /srv',
      baseImages: { ...BASES, 'busybox:1.36': fresh },
      previous: prev,
    }),
  );
  assert.deepEqual([base.kind, base.digest], ['base_image', fresh]);
});

test('a step labelled by another build of the same engine gets this Dockerfile’s label', () => {
  // Names as BuildKit 0.8 printed them (real traces); a vertex shared with a build that loaded it
  // first keeps that build's label.
  const label = createStepLabeler('FROM busybox:latest\nRUN echo b\n');
  assert.equal(
    label('[1/4] FROM docker.io/library/busybox:latest'),
    '[1/2] FROM docker.io/library/busybox:latest',
  );
  assert.equal(
    label('[base 1/5] FROM docker.io/library/busybox:latest'),
    '[1/2] FROM docker.io/library/busybox:latest',
  );
  assert.equal(
    label('[1/2] FROM docker.io/library/busybox:latest'),
    '[1/2] FROM docker.io/library/busybox:latest',
  );
  assert.equal(label('[2/2] RUN echo b'), '[2/2] RUN echo b');
  // The other build wrote `FROM busybox`: this one's spelling, as BuildKit prints it.
  assert.equal(label('[1/2] FROM docker.io/library/busybox'), '[1/2] FROM docker.io/library/busybox:latest');
  assert.equal(label('[1/3] FROM docker.io/library/busybox'), '[1/2] FROM docker.io/library/busybox:latest');
  assert.equal(
    createStepLabeler('FROM busybox AS b\nRUN x\n')('[1/2] FROM docker.io/library/busybox:latest'),
    '[b 1/2] FROM docker.io/library/busybox',
  );
  assert.equal(label('[internal] load build context'), '[internal] load build context');

  const multi = createStepLabeler(
    [
      'FROM busybox:latest',
      'RUN echo one > /o',
      'FROM busybox:latest AS named',
      'COPY --from=0 /o /h',
      'ENV A=b',
      'WORKDIR /x',
      'FROM named',
      'COPY f /f',
      'RUN echo two',
      '',
    ].join('\n'),
  );
  // What the engine printed for this Dockerfile fits it and is kept, including the FROM that two
  // stages share (BuildKit shows one vertex for both).
  for (const n of [
    '[stage-0 1/2] FROM docker.io/library/busybox:latest',
    '[stage-0 2/2] RUN echo one > /o',
    '[named 2/3] COPY --from=0 /o /h',
    '[named 3/3] WORKDIR /x',
    '[stage-2 1/2] COPY f /f',
    '[stage-2 2/2] RUN echo two',
    '[linux/arm64 stage-2 2/2] RUN echo two',
  ])
    assert.equal(multi(n), n);
  assert.equal(multi('[4/4] RUN echo one > /o'), '[stage-0 2/2] RUN echo one > /o');
  assert.equal(multi('[linux/arm64 b 2/5] RUN echo two'), '[linux/arm64 stage-2 2/2] RUN echo two');
  // A name this Dockerfile has no step for, and ONBUILD triggers, are left alone.
  assert.equal(multi('[3/3] RUN echo elsewhere'), '[3/3] RUN echo elsewhere');
  assert.equal(multi('[1/3] ONBUILD RUN echo one > /o'), '[1/3] ONBUILD RUN echo one > /o');
  assert.equal(createStepLabeler('FROM scratch\nCOPY f /f\n')('[2/3] COPY f /f'), '[1/1] COPY f /f');
});

test('build-arg changed is found against a hashed history, and an unchanged one is not', () => {
  const hashed = (args: Record<string, string>) =>
    Object.fromEntries(Object.entries(args).map(([k, v]) => [k, buildArgFingerprint(v)]));
  const previous = {
    dockerfile: APP,
    buildArgs: hashed({ VERSION: '1.1.0' }),
    buildArgsHashed: true,
    baseImages: { ...BASES },
    steps: [],
  };
  const name = '[build 3/3] RUN npm run build -- --define VERSION=1.2.0';
  const changed = explainStep(input({ name, previous, buildArgs: { VERSION: '1.2.0' } }));
  assert.deepEqual(
    [changed.kind, changed.name, changed.text],
    ['build_arg', 'VERSION', 'build-arg VERSION changed'],
  );
  const same = explainStep(
    input({ name: name.replace('1.2.0', '1.1.0'), previous, buildArgs: { VERSION: '1.1.0' } }),
  );
  assert.notEqual(same.kind, 'build_arg');
  // The hashes stored are no values: nothing of "1.1.0" is in the record.
  assert.ok(!JSON.stringify(previous.buildArgs).includes('1.1.0'));
});
