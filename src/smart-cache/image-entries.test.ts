import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLayer, differingPaths, type Entries } from './image-entries.js';

const f = (tag: string) => `file 644 0:0  ${tag}`;

test('layers apply bottom up: later entries win, .wh. removes a path and what is under it, an opaque dir drops lower entries', () => {
  const fs: Entries = new Map();
  applyLayer(fs, [
    ['app', 'directory 755 0:0  e'],
    ['app/a', f('a1')],
    ['app/b', f('b1')],
    ['app/lib', 'directory 755 0:0  e'],
    ['app/lib/x', f('x1')],
    ['etc/conf', f('c1')],
  ]);
  applyLayer(fs, [
    ['app/.wh.lib', f('')],
    ['app/a', f('a2')],
    ['etc/.wh..wh..opq', f('')],
    ['etc/new', f('n1')],
  ]);
  assert.deepEqual([...fs.entries()].sort(), [
    ['app', 'directory 755 0:0  e'],
    ['app/a', f('a2')],
    ['app/b', f('b1')],
    ['etc/new', f('n1')],
  ]);
});

test('differingPaths: changed, missing on either side, sorted', () => {
  const a: Entries = new Map([
    ['x', f('1')],
    ['y', f('1')],
    ['z', f('1')],
  ]);
  const b: Entries = new Map([
    ['x', f('1')],
    ['y', f('2')],
    ['w', f('1')],
  ]);
  assert.deepEqual(differingPaths(a, b), ['w', 'y', 'z']);
  assert.deepEqual(differingPaths(a, new Map(a)), []);
});
