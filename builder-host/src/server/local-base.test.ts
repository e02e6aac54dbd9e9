import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageFacts } from '../engine/index.js';
import { createLocalBaseCheck } from './local-base.js';

const from = (over: Partial<{ cached: boolean; completedMs: number; error: string; name: string }> = {}) => ({
  digest: 'sha256:from',
  name: '[1/3] FROM docker.io/library/busybox:latest',
  cached: false,
  completedMs: 0,
  error: '',
  ...over,
});

function check(images: Record<string, string>, opts: { pull?: boolean; platform?: string } = {}) {
  const asked: string[] = [];
  const inspect = async (ref: string): Promise<ImageFacts | undefined> => {
    asked.push(ref);
    const platform = images[ref];
    return platform === undefined
      ? undefined
      : { id: 'sha256:img', size: 1, diffIds: [], repoTags: [], repoDigests: [], platform };
  };
  return {
    asked,
    c: createLocalBaseCheck({ inspect, pull: opts.pull ?? false, platform: opts.platform ?? '' }),
  };
}

test('a FROM of an image the engine had is cached; one that was fetched or failed is not', async () => {
  const local = check({ 'docker.io/library/busybox:latest': 'linux/amd64' });
  // Asked when the vertex first appears, before BuildKit could fetch the image.
  assert.equal((await local.c.adjust(from())).cached, false);
  assert.deepEqual(local.asked, ['docker.io/library/busybox:latest']);
  assert.equal((await local.c.adjust(from({ completedMs: 5 }))).cached, true);
  assert.equal((await local.c.adjust(from({ completedMs: 5, error: 'pull failed' }))).cached, false);
  assert.equal(local.asked.length, 1);

  const missing = check({});
  await missing.c.adjust(from());
  assert.equal((await missing.c.adjust(from({ completedMs: 5 }))).cached, false);

  const pulled = check({ 'docker.io/library/busybox:latest': 'linux/amd64' }, { pull: true });
  assert.equal((await pulled.c.adjust(from({ completedMs: 5 }))).cached, false);

  const otherArch = check({ 'docker.io/library/busybox:latest': 'linux/amd64' }, { platform: 'linux/arm64' });
  assert.equal((await otherArch.c.adjust(from({ completedMs: 5 }))).cached, false);

  const run = check({});
  const step = from({ name: '[2/3] RUN make', completedMs: 5 });
  assert.equal(await run.c.adjust(step), step);
  assert.deepEqual(run.asked, []);
});
