/**
 * Why `depot bake` parses HCL itself (src/bake/hcl-parser.ts) instead of using @cdktf/hcl2json
 * (HashiCorp's hcl2json compiled to wasm): time to first parse, time per parse, and what each makes
 * of HCL's `$${` escape, on the repo's bake fixture. `node --import tsx bench/hcl-parse.ts`
 * (no engine needed; @cdktf/hcl2json is a dev dependency for this bench only).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseHcl } from '../src/bake/hcl-parser.js';
import { loadBakeTargets } from '../src/bake/index.js';
import { median } from './timing.js';

const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 200);
const FIXTURE = join(import.meta.dirname, '..', 'test', 'fixtures', 'bake', 'hcl', 'docker-bake.hcl');

async function main(): Promise<void> {
  const text = readFileSync(FIXTURE, 'utf8');

  let t = performance.now();
  parseHcl(text, 'docker-bake.hcl');
  const oursFirst = performance.now() - t;
  const ours: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    parseHcl(text, 'docker-bake.hcl');
    ours.push(performance.now() - t);
  }
  t = performance.now();
  loadBakeTargets({ files: [FIXTURE], cwd: join(FIXTURE, '..'), env: {} });
  const resolveMs = performance.now() - t;

  t = performance.now();
  // Loaded by a name the compiler does not follow: its typings pull in the DOM library, whose
  // globals (crypto, fetch…) would retype the rest of the project.
  const pkg: string = '@cdktf/hcl2json';
  const { parse } = (await import(pkg)) as { parse(file: string, text: string): Promise<unknown> };
  const importMs = performance.now() - t;
  t = performance.now();
  await parse('docker-bake.hcl', text);
  const theirsFirst = performance.now() - t;
  const theirs: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 50); i++) {
    t = performance.now();
    await parse('docker-bake.hcl', text);
    theirs.push(performance.now() - t);
  }

  // HCL: `$${` is a literal `${`. The value must come out as the 6 characters a${X}: hcl2json
  // hands back source text, which a second evaluator must then read.
  const escaped = 'target "t" {\n  args = { A = "a$${X}" }\n}\n';
  const dir = mkdtempSync(join(tmpdir(), 'hcl-bench-'));
  writeFileSync(join(dir, 'docker-bake.hcl'), escaped);
  const oursEscaped = loadBakeTargets({
    files: [join(dir, 'docker-bake.hcl')],
    targets: ['t'],
    cwd: dir,
    env: {},
  }).targets[0]?.args?.A;
  rmSync(dir, { recursive: true, force: true });
  const theirsEscaped = JSON.stringify(
    ((await parse('e.hcl', escaped)) as { target?: { t?: unknown } }).target?.t,
  );

  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(`\nHCL parse of the bake fixture (${text.length} bytes); median of ${RUNS} (hcl2json: 50)`);
  console.log('| | depot (src/bake/hcl-parser.ts) | @cdktf/hcl2json 0.21.0 |');
  console.log('| --- | --- | --- |');
  console.log(`| load the parser | — (part of the bundle) | ${ms(importMs)} |`);
  console.log(`| first parse | ${ms(oursFirst)} | ${ms(theirsFirst)} |`);
  console.log(`| each parse after | ${ms(median(ours))} | ${ms(median(theirs))} |`);
  console.log(
    `| read, evaluate and resolve every target (depot) | ${ms(resolveMs)} | — (gives expressions as \`\${…}\` source) |`,
  );
  console.log(`| \`"a$\${X}"\` (HCL: the literal a\${X}) | ${oursEscaped} | ${theirsEscaped} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
