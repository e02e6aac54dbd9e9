// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL templates, not JS ones
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BakeError } from './errors.js';
import { evaluate, type Value } from './hcl-eval.js';
import { parseHcl } from './hcl-parser.js';

/** Evaluates `x = EXPR` with the given variables. */
function ev(expr: string, vars: Record<string, Value> = {}): Value {
  const body = parseHcl(`x = ${expr}\n`, 'docker-bake.hcl');
  const attr = body.attrs[0];
  assert.ok(attr);
  return evaluate(attr.expr, {
    file: 'docker-bake.hcl',
    lookup: (n) => vars[n],
    now: new Date('2024-03-05T07:08:09Z'),
  });
}

function evErr(expr: string, vars: Record<string, Value> = {}): BakeError {
  try {
    ev(expr, vars);
  } catch (e) {
    assert.ok(e instanceof BakeError, String(e));
    return e;
  }
  assert.fail(`expected ${expr} to fail`);
}

describe('bake expressions', () => {
  test('templates interpolate variables; a lone interpolation keeps its type', () => {
    assert.equal(ev('"${REPO}:${TAG}"', { REPO: 'acme/app', TAG: 'v1' }), 'acme/app:v1');
    assert.deepEqual(ev('"${LIST}"', { LIST: ['a', 'b'] }), ['a', 'b']);
    assert.equal(ev('"n=${N}"', { N: 3 }), 'n=3');
    assert.equal(ev('"$${TAG} and %%{x}"'), '${TAG} and %{x}');
    assert.equal(ev('"a\\"b\\n"'), 'a"b\n');
  });

  test('string functions', () => {
    assert.equal(ev('lower("ABC")'), 'abc');
    assert.equal(ev('upper("abc")'), 'ABC');
    assert.equal(ev('trimprefix("refs/tags/v1", "refs/tags/")'), 'v1');
    assert.equal(ev('trimsuffix("app-dev", "-dev")'), 'app');
    assert.equal(ev('replace("a/b/c", "/", "-")'), 'a-b-c');
    assert.equal(ev('join(",", ["a", "b"])'), 'a,b');
    assert.deepEqual(ev('split(",", "a,b")'), ['a', 'b']);
    assert.equal(ev('substr("abcdef", 1, 3)'), 'bcd');
    assert.equal(ev('format("%s-%d", "v", 2)'), 'v-2');
  });

  test('logic: equal, notequal, and, or, !, ==, !=, conditionals, coalesce', () => {
    assert.equal(ev('equal(TAG, "latest")', { TAG: 'latest' }), true);
    assert.equal(ev('notequal(TAG, "")', { TAG: '' }), false);
    assert.equal(ev('and(true, or(false, true))'), true);
    assert.equal(ev('!(TAG == "x") && TAG != "y"', { TAG: 'z' }), true);
    assert.equal(ev('TAG == "" ? "latest" : TAG', { TAG: '' }), 'latest');
    assert.deepEqual(ev('CI ? ["a"] : ["b"]', { CI: 'true' }), ['a']);
    assert.equal(ev('coalesce("", TAG, "fallback")', { TAG: '' }), 'fallback');
    assert.equal(ev('1 == "1"'), false, 'values of different types are never equal');
    assert.equal(ev('2 + 3 * 4'), 14);
  });

  test('for expressions, lists and objects across lines', () => {
    assert.deepEqual(ev('[for v in ["a", "b"] : "x:${v}"]'), ['x:a', 'x:b']);
    assert.deepEqual(ev('[for v in L : v if v != "b"]', { L: ['a', 'b', 'c'] }), ['a', 'c']);
    assert.deepEqual(ev('{ for k, v in { a = 1 } : upper(k) => v }'), { A: 1 });
    assert.deepEqual(ev('[\n  "a",\n  "b",\n]'), ['a', 'b']);
    assert.deepEqual(ev('{\n  A = "1"\n  "b.c" = 2\n}'), { A: '1', 'b.c': 2 });
  });

  test('timestamp and formatdate use one fixed time', () => {
    assert.equal(ev('timestamp()'), '2024-03-05T07:08:09Z');
    assert.equal(ev('formatdate("YYYYMMDD-hhmm", timestamp())'), '20240305-0708');
    assert.equal(
      ev(`formatdate("DD MMM YYYY 'at' hh:mm ZZZ", "2024-01-02T03:04:05Z")`),
      '02 Jan 2024 at 03:04 UTC',
    );
  });

  test('heredocs interpolate; <<- strips the common indent', () => {
    const body = parseHcl('x = <<-EOT\n    FROM alpine\n      RUN echo ${T}\n    EOT\n', 'f.hcl');
    const attr = body.attrs[0];
    assert.ok(attr);
    assert.equal(evaluate(attr.expr, { file: 'f.hcl', lookup: () => 'v' }), 'FROM alpine\n  RUN echo v\n');
  });

  test('an unsupported function is one error naming it, the file and the line, with the supported list', () => {
    const e = evErr('regex_replace(TAG, "v", "")', { TAG: 'v1' });
    assert.equal(e.message, 'docker-bake.hcl:1: function "regex_replace" is not supported by depot bake');
    assert.match(e.hint ?? '', /^supported: .*\blower\b.*\btrimprefix\b/);
  });

  test('errors name the line of the failing expression', () => {
    const body = parseHcl('a = "x"\nx = [\n  "ok",\n  UNDEFINED,\n]\n', 'b.hcl');
    const attr = body.attrs[1];
    assert.ok(attr);
    assert.throws(() => evaluate(attr.expr, { file: 'b.hcl', lookup: () => undefined }), {
      message: 'b.hcl:4: unknown variable "UNDEFINED"',
    });
    assert.throws(() => ev('"a${[1]}"'), /cannot put a list inside a string template/);
    assert.throws(() => ev('"%{ if true }x%{ endif }"'), /template directives .* are not supported/);
    assert.throws(() => ev('L[*]', { L: [] }), /splat expressions .* are not supported/);
  });
});
