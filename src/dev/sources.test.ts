import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copySources, pathsUnderSources } from './sources.js';

const changed = ['src/app.ts', 'src/lib/util.ts', 'srcx/other.ts', 'package.json', 'README.md', 'docs/a.md'];

test('a directory source matches the paths under it, not its name as a prefix', () => {
  assert.deepEqual(pathsUnderSources('[build 3/4] COPY src/ ./src', changed), [
    'src/app.ts',
    'src/lib/util.ts',
  ]);
  assert.deepEqual(pathsUnderSources('[build 3/4] COPY ./src ./src', changed), [
    'src/app.ts',
    'src/lib/util.ts',
  ]);
  assert.deepEqual(pathsUnderSources('[3/4] COPY /src/lib /app/lib', changed), ['src/lib/util.ts']);
});

test('a file source matches only that file; several sources combine', () => {
  assert.deepEqual(pathsUnderSources('[2/4] COPY package.json ./', changed), ['package.json']);
  assert.deepEqual(pathsUnderSources('[2/4] COPY package.json README.md /app/', changed), [
    'package.json',
    'README.md',
  ]);
});

test('`.` copies the whole context', () => {
  assert.deepEqual(pathsUnderSources('[build 4/4] COPY . .', changed), changed);
  assert.deepEqual(pathsUnderSources('[4/4] ADD ./ /app', changed), changed);
});

test('flags are skipped; --from copies nothing from the context', () => {
  assert.deepEqual(pathsUnderSources('[3/4] COPY --chown=app:app --chmod=644 src/ ./src', changed), [
    'src/app.ts',
    'src/lib/util.ts',
  ]);
  assert.deepEqual(pathsUnderSources('[3/4] COPY --link docs /docs', changed), ['docs/a.md']);
  assert.deepEqual(pathsUnderSources('[stage-1 2/2] COPY --from=build /app/src /app', changed), []);
  assert.equal(copySources('[stage-1 2/2] COPY --from=build /app /app'), undefined);
});

test('ADD skips URLs; RUN and internal vertices copy nothing', () => {
  assert.deepEqual(pathsUnderSources('[2/3] ADD https://example.com/x.tgz src/app.ts /x/', changed), [
    'src/app.ts',
  ]);
  assert.equal(copySources('[2/3] ADD https://example.com/x.tgz /x/'), undefined);
  assert.deepEqual(pathsUnderSources('[4/4] RUN cp -r src /x', changed), []);
  assert.deepEqual(pathsUnderSources('[internal] load build context', changed), []);
});

test('wildcards match files and whole directories they name', () => {
  assert.deepEqual(pathsUnderSources('[2/4] COPY *.json ./', changed), ['package.json']);
  assert.deepEqual(pathsUnderSources('[2/4] COPY src/* ./src/', changed), ['src/app.ts', 'src/lib/util.ts']);
  assert.deepEqual(pathsUnderSources('[2/4] COPY src/l?b ./lib', changed), ['src/lib/util.ts']);
  assert.deepEqual(pathsUnderSources('[2/4] COPY [A-Z]*.md ./', changed), ['README.md']);
});

test('JSON form, platform prefixes and heredocs', () => {
  assert.deepEqual(pathsUnderSources('[2/4] COPY ["src/lib", "/app/lib"]', changed), ['src/lib/util.ts']);
  assert.deepEqual(pathsUnderSources('[linux/arm64 build 3/4] COPY src/ ./src', changed), [
    'src/app.ts',
    'src/lib/util.ts',
  ]);
  assert.deepEqual(pathsUnderSources('[2/2] COPY <<EOF /etc/x', changed), []);
});

test('lowercase instructions and ./-prefixed trigger paths', () => {
  assert.deepEqual(pathsUnderSources('[2/2] copy src ./src', ['./src/app.ts']), ['./src/app.ts']);
});
