import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statsFixture } from '../tui/dashboard-fixtures.js';
import {
  busterCostMs,
  busterMissText,
  invalidatedText,
  rankBusters,
  suggestionText,
} from '../tui/stats-format.js';
import { formatStatsTable } from './stats.js';

test("depot stats: each buster's suggestion names the advisor's rule it comes from", () => {
  const lines = formatStatsTable(statsFixture('24h', 'project'), 'project', 100).split('\n');
  const at = lines.indexOf('TOP CACHE BUSTERS');
  assert.ok(at > 0, lines.join('\n'));
  const busters = lines.slice(at + 1).filter((l) => l !== '');
  // By cost with the rebuilds each root caused: COPY . . (41 misses and the 82 rebuilds after them),
  // RUN npm ci (12 and 12), RUN go build (5, no cascades, no rule).
  assert.deepEqual(busters, [
    '  COPY . .  (api)  41 misses → 82 steps rebuilt, cost 1h1m · files 38 · no-cache 3',
    '    invalidated: RUN npm ci, RUN npm run build (41m0s)',
    '    → fix (copy-before-install): copy package.json, package-lock.json first (`COPY package.json package-lock.json ./`), install, then copy the rest',
    '  RUN npm ci  (web-frontend)  12 misses → 12 steps rebuilt, cost 46m0s · files 9 · arg 3',
    '    invalidated: RUN npm run build (6m0s)',
    '    → fix (arg-placement): move `ARG NODE_ENV` down to just above line 9',
    // Without cascades or a suggestion: one line.
    '  RUN go build ./...  (billing-worker)  5 misses, cost 5m0s · Dockerfile 5',
  ]);
});

test('a buster reads as its misses and the rebuilds they caused, ranked by both', () => {
  const one = { misses: 1, cascadedMisses: 1 };
  assert.equal(busterMissText(one), '1 miss → 1 step rebuilt');
  assert.equal(busterMissText({ misses: 4, cascadedMisses: 12 }), '4 misses → 12 steps rebuilt');
  assert.equal(busterMissText({ misses: 3, cascadedMisses: 0 }), '3 misses');
  const b = (step: string, costMs: number, cascadeCostMs: number, misses = 1) => ({
    project: 'web',
    step,
    misses,
    costMs,
    cascadeCostMs,
  });
  // A cheap copy that invalidates a costly install outranks a step that is costly on its own.
  assert.deepEqual(
    rankBusters([b('RUN apt-get', 9000, 0), b('COPY src/ .', 200, 38_000), b('RUN x', 9000, 0, 2)]).map(
      (x) => x.step,
    ),
    ['COPY src/ .', 'RUN x', 'RUN apt-get'],
  );
  assert.equal(busterCostMs(b('COPY', 200, 38_000)), 38_200);
  assert.equal(
    invalidatedText({ cascadedMisses: 12, cascadeCostMs: 38_000, invalidated: ['RUN npm ci', 'RUN make'] }),
    'invalidated: RUN npm ci, RUN make (38.0s)',
  );
  assert.equal(invalidatedText({ cascadedMisses: 0, cascadeCostMs: 0, invalidated: [] }), '');
});

test('a suggestion without a rule is shown alone; no suggestion, nothing', () => {
  assert.equal(suggestionText({ suggestion: 'do x', rule: '' }), 'do x');
  assert.equal(suggestionText({ suggestion: 'do x', rule: 'apt-get-update' }), 'fix (apt-get-update): do x');
  assert.equal(suggestionText({ suggestion: '', rule: 'apt-get-update' }), '');
});
