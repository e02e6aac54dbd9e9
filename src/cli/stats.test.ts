import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statsFixture } from '../tui/dashboard-fixtures.js';
import { suggestionText } from '../tui/stats-format.js';
import { formatStatsTable } from './stats.js';

test("depot stats: each buster's suggestion names the advisor's rule it comes from", () => {
  const lines = formatStatsTable(statsFixture('24h', 'project'), 'project', 100).split('\n');
  const at = lines.indexOf('TOP CACHE BUSTERS');
  assert.ok(at > 0, lines.join('\n'));
  const busters = lines.slice(at + 1).filter((l) => l !== '');
  // By cost: RUN npm ci (arg-placement), COPY . . (copy-before-install), RUN go build (no rule).
  assert.match(busters[0] ?? '', /^ {2}RUN npm ci {2}\(web-frontend\) {2}12 misses, cost 40m0s/);
  assert.equal(busters[1], '    → fix (arg-placement): move `ARG NODE_ENV` down to just above line 9');
  assert.match(busters[2] ?? '', /^ {2}COPY \. \. {2}\(api\)/);
  assert.equal(
    busters[3],
    '    → fix (copy-before-install): copy package.json, package-lock.json first (`COPY package.json package-lock.json ./`), install, then copy the rest',
  );
  assert.match(busters[4] ?? '', /^ {2}RUN go build/);
  assert.equal(busters.length, 5, 'a buster without a suggestion has no fix line');
});

test('a suggestion without a rule is shown alone; no suggestion, nothing', () => {
  assert.equal(suggestionText({ suggestion: 'do x', rule: '' }), 'do x');
  assert.equal(suggestionText({ suggestion: 'do x', rule: 'apt-get-update' }), 'fix (apt-get-update): do x');
  assert.equal(suggestionText({ suggestion: '', rule: 'apt-get-update' }), '');
});
