// Runs every *.test.ts(x) under src/, builder-host/ and test/ with Node's test runner (through tsx).
//   --unit    only tests next to the code (no daemons needed)
//   FILTER…   only files whose path contains one of the words, in one run
// The whole suite runs in two lanes at once: the tests next to the code (no daemons; their output
// is kept in a file and printed when they end) beside test/ (the private engines, one file at a
// time, printed as it goes). Test files spend most of their time loading or waiting on daemons, so
// the lanes overlap instead of adding up.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const unitOnly = process.argv.includes('--unit');
const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.test\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

const pick = (roots) => {
  let files = roots.flatMap((r) => walk(r, []));
  if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
  return files;
};

// Ink renders only the last frame when it thinks it runs in CI; the tests drive real terminals and
// renderers, so they run without CI markers (tests that need CI behaviour set it on their children).
const env = { ...process.env };
for (const k of ['CI', 'CONTINUOUS_INTEGRATION', 'BUILD_NUMBER', 'RUN_ID']) delete env[k];

/** Runs one lane; resolves with its exit status. `out` undefined: the lane prints to this terminal. */
function lane(files, out) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
      { stdio: out ? ['ignore', 'pipe', 'pipe'] : 'inherit', env },
    );
    if (out) {
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
    }
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const unitFiles = pick(['src', 'builder-host']);
const engineFiles = unitOnly ? [] : pick(['test']);
if (unitFiles.length + engineFiles.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

if (unitOnly || filter.length || unitFiles.length === 0 || engineFiles.length === 0) {
  process.exit(await lane([...unitFiles, ...engineFiles]));
}

const logPath = join(mkdtempSync(join(tmpdir(), 'depot-tests-')), 'unit.log');
const log = createWriteStream(logPath);
console.log(`tests next to the code run beside the engine tests; their output: ${logPath}`);
const started = Date.now();
const [unit, engine] = await Promise.all([lane(unitFiles, log), lane(engineFiles)]);
await new Promise((resolve) => log.end(resolve));
process.stdout.write(`\n── tests next to the code (${unitFiles.length} files) ──\n`);
process.stdout.write(readFileSync(logPath));
const verdict = (status) => (status === 0 ? 'passed' : `failed (exit ${status})`);
console.log(
  `\ntests next to the code: ${verdict(unit)}; engine tests: ${verdict(engine)}; ` +
    `${Math.round((Date.now() - started) / 1000)} s for both lanes`,
);
process.exit(unit === 0 && engine === 0 ? 0 : 1);
