import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  buildOn,
  depot,
  skipReason,
  startBuilder,
  tempDir,
} from '../integration/harness.js';

const skip = skipReason();

// The builder answers an identical rebuild from its result memo; an image named by COPY --from is
// not in the memo key, so a build that copies from one must run again (BuildKit decides).
describe('result reuse and inputs from outside the snapshot', { skip }, () => {
  let builder: BuilderProcess;
  let token: string;
  const project = `memo-remote-${process.pid}`;

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  const build = (ctx: string) => depot([...buildOn(builder.url, token, project), ctx]);

  test('a build with COPY --from=<image> is not reused; one without is', async () => {
    const plain = tempDir('memo-plain');
    writeFileSync(join(plain, 'a.txt'), `${process.pid} ${Date.now()}\n`);
    writeFileSync(join(plain, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\n');
    assert.equal((await build(plain)).code, 0);
    const again = await build(plain);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /reusing the result of an identical build/);

    const ctx = tempDir('memo-copy-from');
    writeFileSync(join(ctx, 'a.txt'), `${process.pid} ${Date.now()}\n`);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM busybox\nCOPY a.txt /a.txt\nCOPY --from=busybox /bin/true /t\n',
    );
    const first = await build(ctx);
    assert.equal(first.code, 0, first.stderr);
    const second = await build(ctx);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /reusing the result/);
  });
});
