import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comparePaths } from './manifest.js';

test('comparePaths equals byte order', () => {
  const chars = ['a', 'Z', '/', ' ', 'é', '日', '\uFFFD', '\uE000', '😀', '𝄞', '\uD7FF', '~', '0'];
  const words: string[] = [];
  for (let i = 0; i < 4000; i++) {
    let w = '';
    const n = 1 + (i % 5);
    for (let j = 0; j < n; j++) w += chars[(i * 7 + j * 13 + (i >> 3)) % chars.length];
    words.push(w);
  }
  for (let i = 0; i < words.length; i++)
    for (const j of [i + 1, (i * 3) % words.length, (i * 17 + 5) % words.length]) {
      const a = words[i]!,
        b = words[j % words.length]!;
      const want = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.equal(Math.sign(comparePaths(a, b)), want, `${a} vs ${b}`);
    }
});
