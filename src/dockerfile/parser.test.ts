// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile variables, not template strings
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  copyWords,
  declarations,
  expandVariables,
  flagsOf,
  flagText,
  fromParts,
  jsonWords,
  parseInstructions,
  splitWords,
  variableNames,
} from './parser.js';

describe('expandVariables', () => {
  const vars: Record<string, string | undefined | null> = { A: 'a', E: '', U: undefined, P: null };
  const lookup = (n: string) => vars[n];
  test('forms', () => {
    assert.equal(expandVariables('$A/${A}x', lookup), 'a/ax');
    assert.equal(expandVariables('${E:-d}|${E-d}|${U-d}|${U:-d}', lookup), 'd||d|d');
    assert.equal(expandVariables('${A:+y}|${E:+y}|${E+y}|${U+y}', lookup), 'y||y|');
    assert.equal(expandVariables('${P:-d}|$P', lookup), '${P:-d}|$P');
    assert.equal(expandVariables('${U:-${A}z}', lookup), 'az');
    assert.equal(expandVariables('\\$A|$|${', lookup), '\\$A|$|${');
  });
});

describe('parseInstructions', () => {
  test('lines of each instruction', () => {
    const { instructions } = parseInstructions('FROM a \\\n  AS b\n\nRUN x\n');
    assert.deepEqual(
      instructions.map((i) => [i.keyword, i.rest, i.line]),
      [
        ['FROM', 'a   AS b', 1],
        ['RUN', 'x', 4],
      ],
    );
  });
});

describe('what an instruction holds besides its text', () => {
  test('end lines, heredoc bodies (chomped, quoted terminators, several), an unterminated heredoc', () => {
    const { instructions } = parseInstructions(
      [
        'FROM a',
        'RUN <<-"A" cat - <<B',
        '\tone',
        '\tA',
        'two',
        'B',
        'RUN echo "<<C"',
        'COPY <<EOF /f',
        'x',
      ].join('\n'),
    );
    assert.deepEqual(
      instructions.map((i) => [i.keyword, i.line, i.endLine, i.heredocs]),
      [
        ['FROM', 1, 1, []],
        [
          'RUN',
          2,
          6,
          [
            { name: 'A', chomp: true, body: '\tone\n' },
            { name: 'B', chomp: false, body: 'two\n' },
          ],
        ],
        ['RUN', 7, 7, []],
        ['COPY', 8, 9, [{ name: 'EOF', chomp: false, body: 'x\n' }]],
      ],
    );
  });

  test('sourceRange: where a piece of the arguments is written, undefined across a line break', () => {
    const text = '\uFEFF  FROM --platform=$P reg.io/app:1 AS b\r\nCOPY --from=b \\\n  /x /y\n';
    const [from, copy] = parseInstructions(text).instructions;
    const { image, imageAt, stage } = fromParts(from!.rest);
    assert.deepEqual([image, stage], ['reg.io/app:1', 'b']);
    const at = from!.sourceRange(imageAt, imageAt + image.length)!;
    assert.equal(text.split('\n')[at.line]!.slice(at.start, at.end), image);
    const { flags, valueAt } = flagsOf(copy!.rest);
    assert.deepEqual(flags, [['from', 'b']]);
    const v = copy!.sourceRange(valueAt[0]!, valueAt[0]! + 1)!;
    assert.deepEqual(v, { line: 1, start: 12, end: 13 });
    assert.equal(copy!.sourceRange(valueAt[0]!, copy!.rest.length), undefined);
  });

  test('# syntax=: the image, looked for past other keys, not after a blank line', () => {
    assert.equal(parseInstructions('# check=x\n# syntax=reg.io/df:1 opts\nFROM a\n').syntax, 'reg.io/df:1');
    assert.equal(parseInstructions('\n# syntax=reg.io/df:1\nFROM a\n').syntax, '');
  });
});

describe('flags and words', () => {
  test('flagsOf: quotes and escapes removed, a lone -- ends the flags, where plain values are', () => {
    const rest = '--chown="a b" --mount=type=cache,target=/c --x -- --not-a-flag y';
    const { flags, args, valueAt } = flagsOf(rest);
    assert.deepEqual(flags, [
      ['chown', 'a b'],
      ['mount', 'type=cache,target=/c'],
      ['x', ''],
    ]);
    assert.equal(args, '--not-a-flag y');
    assert.deepEqual(valueAt, [-1, rest.indexOf('type='), -1]);
    assert.deepEqual(flags.map(flagText), ['--chown="a b"', '--mount=type=cache,target=/c', '--x']);
  });

  test('JSON form as BuildKit reads it: the first JSON value, strings only', () => {
    assert.deepEqual(jsonWords(' ["a", "b c"] trailing'), ['a', 'b c']);
    assert.equal(jsonWords('[1, 2]'), undefined);
    assert.equal(jsonWords('[ -e x ]'), undefined);
    assert.deepEqual(copyWords('["a b", "/x/"]'), ['a b', '/x/']);
    assert.deepEqual(copyWords('a  b /x/'), ['a', 'b', '/x/']);
  });

  test('ARG, ENV and LABEL declarations, both ENV forms; values unquoted, literal dollars kept escaped', () => {
    assert.deepEqual(declarations('ARG', 'A B="two words" C=\'$x\'', '\\'), [
      ['A', undefined],
      ['B', 'two words'],
      ['C', '\\$x'],
    ]);
    assert.deepEqual(declarations('ENV', 'DIR  some dir', '\\'), [['DIR', 'some dir']]);
    assert.deepEqual(declarations('ENV', 'A=1 B=a\\ b', '\\'), [
      ['A', '1'],
      ['B', 'a b'],
    ]);
    assert.deepEqual(splitWords('a "b c" d\\ e', '\\'), ['a', 'b c', 'd e']);
  });

  test('variableNames: each once, escaped dollars skipped', () => {
    assert.deepEqual(variableNames('${A:-x}/$B/\\$C/$A', '\\'), ['A', 'B']);
    assert.deepEqual(variableNames('$A`$B', '`'), ['A']);
  });
});
