import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResultHolds } from './result-holds.js';

const ID = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

test('an awaited load holds until the Export of it ends, or until it expires', () => {
  let t = 0;
  const holds = createResultHolds(1000, () => t);
  holds.awaitLoad('p', ID);
  assert.equal(holds.held(ID), true);
  assert.equal(holds.held(OTHER), false);
  const end = holds.use('p', ID);
  holds.loaded('p', ID);
  assert.equal(holds.held(ID), true, 'still streaming');
  end();
  assert.equal(holds.held(ID), false, 'loaded and streamed');

  holds.awaitLoad('p', ID);
  t = 1000;
  assert.equal(holds.held(ID), true, 'the last millisecond of the wait');
  t = 1001;
  assert.equal(holds.held(ID), false, 'no Export came');
});

test('two builds of one image each wait for their own Export; another project’s Export serves neither', () => {
  let t = 0;
  const holds = createResultHolds(1000, () => t);
  holds.awaitLoad('p', ID);
  holds.awaitLoad('p', ID);
  holds.loaded('q', ID);
  holds.loaded('p', ID);
  assert.equal(holds.held(ID), true, 'one load still to come');
  holds.loaded('p', ID);
  assert.equal(holds.held(ID), false);
  // Loads that expired do not add up with a later build's.
  holds.awaitLoad('p', ID);
  t = 5000;
  holds.awaitLoad('p', ID);
  holds.loaded('p', ID);
  assert.equal(holds.held(ID), false);
});

test('a call using an image holds it whatever the clock, and ending twice ends once', () => {
  let t = 0;
  const holds = createResultHolds(10, () => t);
  const a = holds.use('p', ID);
  const b = holds.use('q', ID);
  t = 1e9;
  assert.equal(holds.held(ID), true);
  a();
  a();
  assert.equal(holds.held(ID), true, "q's use is not ended by p's second call");
  b();
  assert.equal(holds.held(ID), false);
});
