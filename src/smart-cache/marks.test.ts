import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildEvent, VertexInfo } from '../progress/events.js';
import { smartReuseWatcher } from './marks.js';
import type { SmartRewrite } from './plan.js';

const REWRITE: SmartRewrite = {
  copyLine: 3,
  installLine: 4,
  installer: 'npm ci',
  manifests: ['package.json', 'package-lock.json'],
  install: 'RUN npm ci  --omit=dev',
  rest: 'COPY . .',
};

const vertex = (v: Partial<VertexInfo> & Pick<VertexInfo, 'digest' | 'name'>): BuildEvent => ({
  type: 'vertex/updated',
  timeMs: 1,
  vertex: { inputs: [], cached: false, startedMs: 0, completedMs: 0, error: '', ...v },
});

const manifests = vertex({ digest: 'm', name: '[3/5] COPY package.json package-lock.json ./', cached: true });
const install = (cached: boolean) =>
  vertex({
    digest: 'i',
    name: '[4/5] RUN npm ci --omit=dev',
    inputs: ['m'],
    cached,
    startedMs: 1,
    completedMs: 2,
  });
const rest = (cached: boolean, inputs = ['i', 'ctx']) =>
  vertex({ digest: 'r', name: '[5/5] COPY . .', inputs, cached, startedMs: 3, completedMs: cached ? 3 : 0 });

test('a cached install under a rest copy that ran is reused by the smart cache, once', () => {
  const watch = smartReuseWatcher([REWRITE]);
  assert.equal(watch(manifests), undefined);
  assert.equal(watch(install(true)), undefined);
  const mark = watch(rest(false));
  assert.deepEqual(mark, {
    type: 'step/reused',
    timeMs: 1,
    vertex: 'i',
    text: 'npm ci reused by the smart cache: only files outside package.json, package-lock.json changed',
  });
  assert.equal(watch(rest(false)), undefined, 'once');
});

test('no mark when the rest copy was cached too, the install ran, or the copy builds on another step', () => {
  let watch = smartReuseWatcher([REWRITE]);
  watch(install(true));
  assert.equal(watch(rest(true)), undefined, 'nothing changed: docker would have cached it too');
  watch = smartReuseWatcher([REWRITE]);
  watch(install(false));
  assert.equal(watch(rest(false)), undefined, 'the install ran: a manifest changed');
  watch = smartReuseWatcher([REWRITE]);
  watch(install(true));
  assert.equal(watch(rest(false, ['other', 'ctx'])), undefined, 'another COPY . . elsewhere');
  watch = smartReuseWatcher([REWRITE]);
  watch(vertex({ digest: 'i', name: '[4/5] RUN npm ci', cached: true, startedMs: 1 }));
  assert.equal(watch(rest(false)), undefined, 'another install command');
});
