import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFixtures } from './fixtures.js';
import { createJsonRenderer, parseEventLines } from './json.js';

test('json renderer writes each event as one line that parses back to the same event', () => {
  for (const { events } of loadFixtures()) {
    let out = '';
    const r = createJsonRenderer((s) => {
      out += s;
    });
    for (const e of events) r.handle(e);
    r.close();
    assert.equal(out.split('\n').length, events.length + 1);
    assert.ok(out.endsWith('\n'));
    assert.deepEqual(parseEventLines(out), events);
  }
});

test('json renderer writes nothing after close', () => {
  let out = '';
  const r = createJsonRenderer((s) => {
    out += s;
  });
  r.close();
  r.handle({ type: 'load/started', timeMs: 1 });
  assert.equal(out, '');
});
