/**
 * Why the Dockerfile parser is our own: over the corpus of tricky Dockerfiles (parser-corpus.ts,
 * each reading checked against BuildKit 0.8 by test/integration/dockerfile-parser.test.ts), ours
 * reads every file as BuildKit does (a file BuildKit 0.8 refuses for its heredocs, as Dockerfile
 * syntax 1.4 does), while dockerfile-ast, the language-server parser the code used before, departs
 * on the cases listed below. dockerfile-ast is a dev dependency for this test only.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DockerfileParser, type Flag, type Instruction } from 'dockerfile-ast';
import { parseInstructions } from './parser.js';
import { PARSER_CORPUS, type Reading } from './parser-corpus.js';

/** What each corpus case is measured against: BuildKit 0.8's reading, else syntax 1.4's. */
function expected(name: string): Reading | undefined {
  const c = PARSER_CORPUS.find((x) => x.name === name)!;
  return 'rejects' in c.buildkit ? c.later : c.buildkit;
}

function ourReading(text: string): Reading {
  const { escapeChar, syntax, instructions } = parseInstructions(text);
  return {
    escape: escapeChar as Reading['escape'],
    ...(syntax ? { syntax } : {}),
    instructions: instructions.map((i) => [i.line, i.keyword, i.rest]),
  };
}

/** dockerfile-ast's reading: its instructions, their flags and argument text (what its users read). */
function astReading(text: string): Reading {
  const df = DockerfileParser.parse(text);
  const syntax = df
    .getDirectives()
    .find((d) => d.getName().toLowerCase() === 'syntax')
    ?.getValue()
    .split(' ', 1)[0];
  return {
    escape: df.getEscapeCharacter() as Reading['escape'],
    ...(syntax ? { syntax } : {}),
    instructions: df.getInstructions().map((i: Instruction) => {
      const flags = (i as Instruction & { getFlags?(): Flag[] }).getFlags?.() ?? [];
      const rest = [...flags.map((f) => f.toString()), i.getArgumentsContent() ?? ''].join(' ');
      return [i.getRange().start.line + 1, i.getKeyword().toUpperCase(), rest];
    }),
  };
}

/** Whitespace collapsed: dockerfile-ast keeps line breaks in its argument text, which is no departure. */
const collapsed = (r: Reading): Reading => ({
  ...r,
  instructions: r.instructions.map(([line, keyword, rest]) => [
    line,
    keyword,
    rest.replace(/\s+/g, ' ').trim(),
  ]),
});

/** Where dockerfile-ast reads a corpus file differently from BuildKit (measured below, case by case). */
const AST_DEPARTURES: Record<string, string> = {
  'continuation over comment, empty and whitespace lines':
    'an indented comment line inside a continuation stays in the arguments',
  'a doubled escape character ends the line': 'continues the line: the next instruction becomes arguments',
  'an unknown directive ends the directives':
    'takes `# escape=` after an unknown directive: joins two instructions',
  'heredoc RUN': 'the heredoc body and terminator are arguments',
  'several heredocs on a line, <<- and quoted terminators, COPY and ADD':
    'heredoc bodies are arguments (a COPY body line reads as a source)',
};

describe('the Dockerfile parser against BuildKit, beside dockerfile-ast', () => {
  for (const c of PARSER_CORPUS) {
    test(c.name, () => {
      const want = expected(c.name);
      const ours = ourReading(c.dockerfile);
      if (want) assert.deepEqual(ours, want);
      const ast = collapsed(astReading(c.dockerfile));
      const astDeparts = want !== undefined && JSON.stringify(ast) !== JSON.stringify(collapsed(want));
      assert.equal(
        astDeparts,
        c.name in AST_DEPARTURES,
        astDeparts ? `dockerfile-ast departs: ${JSON.stringify(ast)}` : 'dockerfile-ast reads it as BuildKit',
      );
    });
  }

  test('every recorded dockerfile-ast departure is a corpus case', () => {
    for (const name of Object.keys(AST_DEPARTURES))
      assert.ok(
        PARSER_CORPUS.some((c) => c.name === name),
        name,
      );
  });
});
