import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachKey } from './key-chunks.js';

test('a chunk of typed keys is split into its keys; one key, a modified key or an escape sequence stays whole', () => {
  assert.deepEqual(eachKey('jj', {}), [
    ['j', {}],
    ['j', {}],
  ]);
  assert.deepEqual(eachKey('j\rw', {}), [
    ['j', {}],
    ['', { return: true }],
    ['w', {}],
  ]);
  assert.deepEqual(eachKey('\t\u0003', {}), [
    ['', { tab: true }],
    ['c', { ctrl: true }],
  ]);
  assert.deepEqual(eachKey('q', {}), [['q', {}]]);
  assert.deepEqual(eachKey('', { downArrow: true }), [['', { downArrow: true }]]);
  assert.deepEqual(eachKey('c', { ctrl: true }), [['c', { ctrl: true }]]);
  assert.deepEqual(eachKey('[B\u001B[B', { meta: true }), [['[B\u001B[B', { meta: true }]]);
});
