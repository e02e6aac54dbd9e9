// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variables, not template strings
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ImageNameRules, resolveImageNames } from './base-names.js';

const INTERNAL = 'builder.depot.internal/p1/x:1';
const rules = (own: Record<string, string> = {}, buildArgs: Record<string, string> = {}): ImageNameRules => ({
  isInternal: (ref) => ref.startsWith('builder.depot.internal/'),
  ownImage: async (ref) => own[ref],
  buildArgs,
});

test("the project's own images get their engine names where they are written; nothing else changes", async () => {
  const own = { 'app:base': 'ns/app:base', 'tools:1': 'ns/tools:1' };
  const df = [
    '\uFEFF# escape=`',
    'FROM --platform=$P app:base AS b\r',
    'COPY --chown=1:1 --from=tools:1 /t /t\r',
    'COPY --from=b /x /x',
    'FROM `',
    '  app:base',
    'RUN --mount=type=bind,from=tools:1,target=/m true',
    'FROM node:20',
    '',
  ].join('\n');
  assert.equal(
    await resolveImageNames(df, rules(own)),
    [
      '\uFEFF# escape=`',
      'FROM --platform=$P ns/app:base AS b\r',
      'COPY --chown=1:1 --from=ns/tools:1 /t /t\r',
      'COPY --from=b /x /x',
      // On a continuation line too; a mount's from= is only checked.
      'FROM `',
      '  ns/app:base',
      'RUN --mount=type=bind,from=tools:1,target=/m true',
      'FROM node:20',
      '',
    ].join('\n'),
  );
});

test("a name in the builder's namespace is refused however BuildKit would read it", async () => {
  for (const df of [
    `FROM ${INTERNAL}\n`,
    `FROM busybox\nCOPY --chown=1:1 --from=${INTERNAL} /a /b\n`,
    `FROM "${INTERNAL}"\n`,
    `FROM busybox\nCOPY --from="${INTERNAL}" /a /b\n`,
    `ARG I\nFROM \${I:-${INTERNAL}}\n`,
    'ARG I\nFROM $I\n',
    `FROM busybox\nRUN --mount=type=bind,from="${INTERNAL}",target=/m true\n`,
    `FROM busybox\nRUN --mount=from=${INTERNAL},target=/m \\\n  true\n`,
  ])
    await assert.rejects(
      resolveImageNames(df, rules({}, { I: INTERNAL })),
      /an image name of the builder's own/,
      df,
    );
  // A heredoc body is no instruction.
  const body = `FROM busybox\nRUN <<EOF\nFROM ${INTERNAL}\nEOF\n`;
  assert.equal(await resolveImageNames(body, rules()), body);
});
