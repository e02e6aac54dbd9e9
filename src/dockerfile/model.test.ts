import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argMovableBelow, argPlacements, parseDockerfile, stageLabel } from './model.js';

const DF =
  'FROM node:20\nARG V\nRUN npm ci\nCOPY . .\nRUN make\nRUN echo $V\nFROM busybox\nARG V\nRUN echo $V\n';

test('argPlacements: the RUN steps between an ARG and its first use, per stage', () => {
  assert.deepEqual(
    argPlacements(DF).map((p) => ({ ...p, runs: p.runs.map((r) => r.text) })),
    [{ name: 'V', line: 2, stage: 0, firstUseLine: 6, runs: ['RUN npm ci', 'RUN make'] }],
  );
});

test('argMovableBelow: true for a step between the ARG and its use, as the history names it', () => {
  assert.equal(argMovableBelow(DF, 'V', 'RUN npm ci'), true);
  assert.equal(argMovableBelow(DF, 'V', 'RUN  make'), true);
  assert.equal(argMovableBelow(DF, 'V', 'RUN echo $V'), false);
  assert.equal(argMovableBelow(DF, 'OTHER', 'RUN npm ci'), false);
});

test('stage edges: FROM <stage>, COPY/ADD --from by name or index, RUN --mount=from; images make none', () => {
  const model = parseDockerfile(
    [
      'FROM busybox AS deps',
      'RUN echo deps',
      'FROM busybox AS Assets',
      'RUN echo assets',
      'FROM deps AS build',
      'COPY --from=assets /a /a',
      'RUN --mount=type=cache,target=/c --mount=from=deps,target=/d true',
      'FROM busybox',
      'COPY --from=build /app /app',
      'COPY --from=0 /x /x',
      'COPY --from=alpine:3 /etc/os-release /os',
      'ADD --chown=1 --from=$X /y /y',
      'RUN --mount=type=bind,from=assets,source=/a,target=/b cat /b',
    ].join('\n'),
  );
  assert.deepEqual(
    model.stages.map((s) => [s.name, s.baseStage, stageLabel(model, s)]),
    [
      ['deps', -1, 'deps'],
      ['assets', -1, 'assets'],
      ['build', 0, 'build'],
      ['', -1, 'stage-3'],
    ],
  );
  assert.deepEqual(
    model.edges.map((e) => `${e.from}->${e.to} ${e.kind} line ${e.line} step ${e.stepIndex}`),
    [
      '0->2 from line 5 step 0',
      '1->2 copy line 6 step 1',
      '0->2 mount line 7 step 2',
      '2->3 copy line 9 step 2',
      '0->3 copy line 10 step 3',
      '1->3 mount line 13 step 6',
    ],
  );
  // One unnamed stage: BuildKit prints no stage name.
  const one = parseDockerfile('FROM busybox\nRUN true\n');
  assert.equal(stageLabel(one, one.stages[0]!), '');
});
