import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageHistoryEntry } from '../engine/index.js';
import { imageChain, type StepVertex, stepLayers } from './step-layers.js';

/**
 * A real build on Docker 20.10 (BuildKit 0.8) of
 *
 *   FROM busybox AS deps / WORKDIR /deps / COPY a.txt . / ARG V=1 / RUN head -c 30000 … / FROM deps AS build /
 *   ENV X=1 / COPY a.txt /b.txt / RUN ["sh", "-c", "head -c 1000 …"] / FROM busybox / WORKDIR / /
 *   WORKDIR app / COPY --from=build /b.bin /app/b.bin / RUN --mount=from=deps,… cp /d/deps.bin /app/ /
 *   LABEL a=b / RUN true / CMD ["cat"]
 *
 * with its vertices (digests cut) and the history of the final image and of `--target build`.
 */
const VERTICES: StepVertex[] = (
  [
    ['sha256:3070f5b0', '[internal] load build definition from Dockerfile', []],
    ['sha256:8ebe465c', '[internal] load .dockerignore', []],
    ['sha256:da853382', '[internal] load metadata for docker.io/library/busybox:latest', []],
    ['sha256:08a03f3f', '[deps 1/4] FROM docker.io/library/busybox', []],
    ['sha256:ad8dbe72', '[stage-2 3/6] WORKDIR app', ['sha256:08a03f3f']],
    ['sha256:b0301a0d', '[deps 2/4] WORKDIR /deps', ['sha256:08a03f3f']],
    ['sha256:78e8dbf2', '[internal] load build context', []],
    ['sha256:4dd0ea5c', '[deps 3/4] COPY a.txt .', ['sha256:b0301a0d', 'sha256:78e8dbf2']],
    ['sha256:5673fba2', '[deps 4/4] RUN head -c 30000 /dev/zero > /deps.bin && echo 1', ['sha256:4dd0ea5c']],
    ['sha256:08a72a29', '[build 1/2] COPY a.txt /b.txt', ['sha256:5673fba2', 'sha256:78e8dbf2']],
    [
      'sha256:2680a9ef',
      '[build 2/2] RUN ["sh", "-c", "head -c 1000 /dev/zero > /b.bin"]',
      ['sha256:08a72a29'],
    ],
    [
      'sha256:a1ab33e6',
      '[stage-2 4/6] COPY --from=build /b.bin /app/b.bin',
      ['sha256:ad8dbe72', 'sha256:2680a9ef'],
    ],
    [
      'sha256:6acd0b5a',
      '[stage-2 5/6] RUN --mount=from=deps,target=/d cp /d/deps.bin /app/',
      ['sha256:a1ab33e6', 'sha256:5673fba2'],
    ],
    ['sha256:fc47d9a2', '[stage-2 6/6] RUN true', ['sha256:6acd0b5a']],
    ['sha256:e8c613e0', 'exporting to image', []],
  ] as const
).map(([digest, name, inputs]) => ({ digest, name, inputs: [...inputs] }));

const FINAL_HISTORY: ImageHistoryEntry[] = [
  { size: 0, createdBy: 'CMD ["cat"]' },
  { size: 0, createdBy: 'RUN /bin/sh -c true # buildkit' },
  { size: 0, createdBy: 'LABEL a=b' },
  { size: 30000, createdBy: 'RUN /bin/sh -c cp /d/deps.bin /app/ # buildkit' },
  { size: 1000, createdBy: 'COPY /b.bin /app/b.bin # buildkit' },
  { size: 0, createdBy: 'WORKDIR /app' },
  { size: 0, createdBy: 'WORKDIR /' },
  { size: 1984172, createdBy: '' },
];

/** `--target build`: the chain goes through `FROM deps` into the deps stage. */
const TARGET_BUILD = VERTICES.filter((v) => !/stage-2/.test(v.name));
const BUILD_HISTORY: ImageHistoryEntry[] = [
  { size: 1000, createdBy: 'RUN sh -c head -c 1000 /dev/zero > /b.bin # buildkit' },
  { size: 3, createdBy: 'COPY a.txt /b.txt # buildkit' },
  { size: 0, createdBy: 'ENV X=1' },
  {
    size: 30000,
    createdBy: 'RUN |1 V=2 /bin/sh -c head -c 30000 /dev/zero > /deps.bin && echo $V # buildkit',
  },
  { size: 0, createdBy: 'ARG V=1' },
  { size: 3, createdBy: 'COPY a.txt . # buildkit' },
  { size: 0, createdBy: 'WORKDIR /deps' },
  { size: 1984172, createdBy: '' },
];

const sizes = (layers: { vertex: string; bytes: number }[]) =>
  Object.fromEntries(
    layers.map((l) => [VERTICES.find((v) => v.digest === l.vertex)?.name ?? l.vertex, l.bytes]),
  );

test('the final stage’s steps get their layers; the stages it copies or mounts from get none', () => {
  assert.deepEqual(sizes(stepLayers(VERTICES, FINAL_HISTORY)), {
    '[stage-2 6/6] RUN true': 0,
    '[stage-2 5/6] RUN --mount=from=deps,target=/d cp /d/deps.bin /app/': 30000,
    '[stage-2 4/6] COPY --from=build /b.bin /app/b.bin': 1000,
    '[stage-2 3/6] WORKDIR app': 0,
  });
});

test('a target built FROM another stage: its chain runs through that stage; ENV and ARG entries carry no layer', () => {
  assert.deepEqual(
    imageChain(TARGET_BUILD).map((v) => v.digest),
    ['sha256:2680a9ef', 'sha256:08a72a29', 'sha256:5673fba2', 'sha256:4dd0ea5c', 'sha256:b0301a0d'],
  );
  assert.deepEqual(sizes(stepLayers(TARGET_BUILD, BUILD_HISTORY)), {
    '[build 2/2] RUN ["sh", "-c", "head -c 1000 /dev/zero > /b.bin"]': 1000,
    '[build 1/2] COPY a.txt /b.txt': 3,
    '[deps 4/4] RUN head -c 30000 /dev/zero > /deps.bin && echo 1': 30000,
    '[deps 3/4] COPY a.txt .': 3,
    '[deps 2/4] WORKDIR /deps': 0,
  });
});

test('FROM scratch with COPY --from: the chain goes on into the other stage, the image does not', () => {
  const vertices: StepVertex[] = [
    { digest: 'b1', name: '[build 1/2] FROM docker.io/library/busybox', inputs: [] },
    { digest: 'b2', name: '[build 2/2] RUN make', inputs: ['b1'] },
    { digest: 's2', name: '[stage-1 1/1] COPY --from=build /out /out', inputs: ['b2'] },
  ];
  const history = [{ size: 77, createdBy: 'COPY /out /out # buildkit' }];
  assert.deepEqual(stepLayers(vertices, history), [{ vertex: 's2', bytes: 77 }]);
});

test('nothing is told when unsure: a pair of different instructions, no single last step, no history', () => {
  const swapped = FINAL_HISTORY.map((e) =>
    e.createdBy.startsWith('COPY') ? { ...e, createdBy: 'ADD /b.bin /app/b.bin # buildkit' } : e,
  );
  assert.deepEqual(stepLayers(VERTICES, swapped), []);
  const twoTips = [...VERTICES, { digest: 'x', name: '[other 2/2] RUN x', inputs: ['sha256:08a03f3f'] }];
  assert.deepEqual(stepLayers(twoTips, FINAL_HISTORY), []);
  assert.deepEqual(stepLayers(VERTICES, []), []);
  // A target that is only its FROM has no step of its own.
  assert.deepEqual(stepLayers([VERTICES[3]!], FINAL_HISTORY), []);
});
