import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILDER_BIN, DEPOT_BIN, ROOT, tempDir } from './integration/harness.js';

// The packages only some commands need: start-up must not read or parse them.
const HEAVY = /node_modules\/(ink|react|react-reconciler|yoga-layout|@aws-sdk|@smithy)\//;

interface Meta {
  outputs: Record<
    string,
    { inputs: Record<string, unknown>; imports: { path: string; kind: string; external?: boolean }[] }
  >;
}

const META = join(ROOT, 'dist', 'bundle', 'meta.json');

function meta(): Meta {
  assert.ok(existsSync(META), `${META} missing: run npm run build`);
  return JSON.parse(readFileSync(META, 'utf8')) as Meta;
}

/** Bundled packages (and own files) in these output files that match `heavy`. */
function heavyInputs(m: Meta, outputs: Iterable<string>, heavy = HEAVY): string[] {
  const found = new Set<string>();
  for (const out of outputs) {
    for (const input of Object.keys(m.outputs[out]?.inputs ?? {})) if (heavy.test(input)) found.add(input);
  }
  return [...found];
}

/** The output files an entry loads before any of its code runs: its static imports, transitively. */
function staticClosure(m: Meta, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (out: string) => {
    if (seen.has(out) || !m.outputs[out]) return;
    seen.add(out);
    for (const i of m.outputs[out].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  return seen;
}

// A resolve hook that appends every module URL the process loads to a file (hooks run off-thread).
const HOOK = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.DEPOT_TEST_LOADED, r.url + '\\n');
  return r;
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(
  `data:text/javascript,${encodeURIComponent(HOOK)}`,
)});`;

/** The bundle's output files (as the metafile names them) that a run of `bin args` loads. */
function loadedOutputs(bin: string, args: string[]): string[] {
  const log = join(tempDir('bundle-loaded'), 'loaded.txt');
  writeFileSync(log, '');
  spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, bin, ...args],
    {
      env: {
        ...process.env,
        DEPOT_TEST_LOADED: log,
        DEPOT_BUILDER: '',
        DOCKER_HOST: 'unix:///nonexistent.sock',
      },
      stdio: 'ignore',
    },
  );
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((u) => u.startsWith('file:'))
    .map((u) => relative(ROOT, fileURLToPath(u)))
    .filter((p) => p.startsWith(join('dist', 'bundle')));
}

describe('the bundles keep heavy packages off the start-up path', () => {
  test('the metafile sees Ink, React and the AWS SDK in lazily loaded chunks', () => {
    // Without this the checks below could pass on a metafile that names no such package at all.
    const m = meta();
    const everything = heavyInputs(m, Object.keys(m.outputs)).join('\n');
    for (const pkg of ['node_modules/ink/', 'node_modules/react/', 'node_modules/@aws-sdk/'])
      assert.ok(everything.includes(pkg), `${pkg} is not in any chunk`);
  });

  test('no entry imports them statically', () => {
    const m = meta();
    for (const bin of [DEPOT_BIN, BUILDER_BIN]) {
      const entry = relative(ROOT, bin);
      const closure = staticClosure(m, entry);
      assert.ok(closure.has(entry), `${entry} is not an output of the metafile`);
      assert.deepEqual(heavyInputs(m, closure), [], `${entry} loads these at start-up`);
    }
  });

  for (const args of [['--version'], ['build', '--help'], ['build', '--progress', 'plain', 'absent-dir']]) {
    test(`depot ${args.join(' ')} loads none of them`, () => {
      const loaded = loadedOutputs(DEPOT_BIN, args);
      assert.ok(loaded.includes(relative(ROOT, DEPOT_BIN)), `the hook saw no bundle file: ${loaded}`);
      assert.deepEqual(heavyInputs(meta(), loaded), []);
    });
  }

  test('depot-builder --version loads none of them, nor the server, the gRPC stack or the history', () => {
    const loaded = loadedOutputs(BUILDER_BIN, ['--version']);
    assert.ok(loaded.includes(relative(ROOT, BUILDER_BIN)), `the hook saw no bundle file: ${loaded}`);
    assert.deepEqual(heavyInputs(meta(), loaded), []);
    // The project-name rule is the one server file the command line needs (it imports nothing).
    const serving =
      /node_modules\/@grpc\/|builder-host\/src\/(server\/(?!project-name\.ts)|history\/|store\/)/;
    assert.deepEqual(heavyInputs(meta(), loaded, serving), []);
    // Not vacuous: `serve` does load them (its chunks are in the metafile).
    assert.ok(heavyInputs(meta(), Object.keys(meta().outputs), serving).length > 0);
  });
});

describe('the bundles hold each module once', () => {
  test('no source file or package module is in two output files', () => {
    // Two copies would mean two instances of its module-level state (gRPC channel caches, loggers,
    // timers) in one process, depending on which chunk a caller's import lands in.
    const m = meta();
    const where = new Map<string, string[]>();
    for (const [out, o] of Object.entries(m.outputs)) {
      for (const input of Object.keys(o.inputs)) where.set(input, [...(where.get(input) ?? []), out]);
    }
    assert.ok(where.size > 100, `the metafile names only ${where.size} inputs`);
    const twice = [...where]
      .filter(([, outs]) => outs.length > 1)
      .map(([i, outs]) => `${i}: ${outs.join(', ')}`);
    assert.deepEqual(twice, []);
  });
});
