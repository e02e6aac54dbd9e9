/**
 * The readings of the Dockerfile parser corpus (src/dockerfile/parser-corpus.ts) are BuildKit's:
 * each Dockerfile is built by `docker build` (BuildKit 0.8, the builder's engine), and
 * - a file the corpus says BuildKit refuses fails with that error;
 * - a file with a `# syntax=` frontend goes to that frontend image (which does not exist);
 * - any other builds, and the steps it runs (RUN, COPY, ADD, WORKDIR, as BuildKit names them)
 *   are the reading's, with their text as written;
 * - the reading's line of its last instruction is BuildKit's: with that keyword replaced by an
 *   unknown one, BuildKit refuses the file at that line.
 * parser-fidelity.test.ts then holds our parser (and dockerfile-ast) to the readings.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { jsonWords, wordValue } from '../../src/dockerfile/parser.js';
import { type CorpusCase, PARSER_CORPUS, type Reading } from '../../src/dockerfile/parser-corpus.js';
import { BUILDER_ENGINE, DOCKER, run, skipReason, tempDir } from './harness.js';

const skip = skipReason();
const STEPS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** Builds `dockerfile` (nothing kept: the image goes to /dev/null); the step names, or the error. */
async function build(
  c: CorpusCase,
  dockerfile: string,
): Promise<{ ok: boolean; steps: string[]; output: string }> {
  const dir = tempDir('df-parser');
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, body] of Object.entries(c.context ?? {})) writeFileSync(join(dir, name), body);
  const r = await run(DOCKER, ['build', '--progress', 'plain', '--output', 'type=tar,dest=/dev/null', dir], {
    DOCKER_HOST: BUILDER_ENGINE,
    DOCKER_BUILDKIT: '1',
  });
  const output = r.stdout + r.stderr;
  const steps = new Map<string, string>();
  // A name is the instruction's text: the keyword and the space after it as written, which is no
  // part of the reading.
  for (const m of output.matchAll(/^#(\d+) \[(?:[^\]\s]+ )?\d+\/\d+\] (\S+)\s+(.*)$/gm))
    steps.set(m[1]!, `${m[2]!} ${m[3]!}`);
  return {
    ok: r.code === 0,
    steps: [...steps.values()].filter((s) => STEPS.has(s.split(' ', 1)[0]!)).sort(),
    output,
  };
}

/**
 * A step's name as BuildKit prints it: the keyword, then the text as its shell lexer reads it
 * (quotes removed, escapes applied, spaces kept); an exec-form RUN as written.
 */
function stepName(keyword: string, rest: string, escapeChar: string): string {
  if (keyword === 'RUN' && jsonWords(rest) !== undefined) return `RUN ${rest}`;
  return `${keyword} ${wordValue(rest, escapeChar)}`;
}

/** `dockerfile` with the keyword at 1-based `line` replaced by NOPE. */
function withUnknownKeywordAt(dockerfile: string, line: number, keyword: string): string {
  const lines = dockerfile.split('\n');
  const at = lines[line - 1]!;
  const k = at.toUpperCase().indexOf(keyword);
  assert.ok(k >= 0, `line ${line} holds no ${keyword}: ${JSON.stringify(at)}`);
  lines[line - 1] = `${at.slice(0, k)}NOPE${at.slice(k + keyword.length)}`;
  return lines.join('\n');
}

describe('the Dockerfile parser corpus is what BuildKit 0.8 reads', { skip, concurrency: 2 }, () => {
  for (const c of PARSER_CORPUS) {
    test(c.name, async () => {
      if ('rejects' in c.buildkit) {
        const r = await build(c, c.dockerfile);
        assert.equal(r.ok, false, r.output);
        assert.ok(r.output.includes(c.buildkit.rejects), r.output);
        return;
      }
      const reading: Reading = c.buildkit;
      if (reading.syntax) {
        // Handed to that frontend: the engine resolves its image (and fails to: it does not exist).
        const r = await build(c, c.dockerfile);
        assert.equal(r.ok, false, r.output);
        assert.ok(r.output.includes(`resolve image config for ${reading.syntax}`), r.output);
        return;
      }
      const last = reading.instructions.at(-1)!;
      const [whole, probe] = await Promise.all([
        build(c, c.dockerfile),
        build(c, withUnknownKeywordAt(c.dockerfile, last[0], last[1])),
      ]);
      assert.equal(whole.ok, true, whole.output);
      assert.deepEqual(
        whole.steps,
        reading.instructions
          .filter(([, keyword]) => STEPS.has(keyword))
          .map(([, keyword, rest]) => stepName(keyword, rest, reading.escape))
          .sort(),
      );
      assert.equal(probe.ok, false, probe.output);
      assert.ok(
        probe.output.includes(`dockerfile parse error line ${last[0]}: unknown instruction: NOPE`),
        probe.output,
      );
    });
  }
});
