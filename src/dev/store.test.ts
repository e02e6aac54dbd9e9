import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStore } from './store.js';

type Action = { type: 'add'; n: number } | { type: 'noop' };
const reducer = (s: { total: number }, a: Action) => (a.type === 'add' ? { total: s.total + a.n } : s);

test('dispatch reduces and notifies subscribers of changes only; unsubscribe stops them', () => {
  const store = createStore(reducer, { total: 0 });
  const seen: number[] = [];
  const off = store.subscribe((s, prev) => seen.push(s.total - prev.total));
  store.dispatch({ type: 'add', n: 2 });
  store.dispatch({ type: 'noop' });
  off();
  store.dispatch({ type: 'add', n: 5 });
  assert.deepEqual(seen, [2]);
  assert.equal(store.getState().total, 7);
});

test('a dispatch from a subscriber is applied after the current one, in order', () => {
  const store = createStore(reducer, { total: 0 });
  const seen: number[] = [];
  store.subscribe((s) => {
    seen.push(s.total);
    if (s.total === 1) store.dispatch({ type: 'add', n: 10 });
  });
  store.subscribe((s) => seen.push(-s.total));
  store.dispatch({ type: 'add', n: 1 });
  assert.deepEqual(seen, [1, -1, 11, -11]);
});

test('a throwing subscriber does not stop the others', () => {
  const store = createStore(reducer, { total: 0 });
  let called = false;
  store.subscribe(() => {
    throw new Error('boom');
  });
  store.subscribe(() => {
    called = true;
  });
  store.dispatch({ type: 'add', n: 1 });
  assert.equal(called, true);
});

test('waitUntilState resolves at once, on a later dispatch, or rejects on timeout', async () => {
  const store = createStore(reducer, { total: 0 });
  assert.equal((await store.waitUntilState((s) => s.total === 0)).total, 0);
  const later = store.waitUntilState((s) => s.total >= 3);
  store.dispatch({ type: 'add', n: 1 });
  store.dispatch({ type: 'add', n: 2 });
  assert.equal((await later).total, 3);
  await assert.rejects(
    store.waitUntilState((s) => s.total < 0, 10),
    /within 10 ms/,
  );
});
