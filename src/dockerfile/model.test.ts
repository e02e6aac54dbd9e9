import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argMovableBelow, argPlacements } from './model.js';

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
