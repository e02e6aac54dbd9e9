import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { DepotError } from '../session/index.js';
import { isHelpOrVersion, throwUsageErrors, UNSUPPORTED_DOCKER_BUILD_FLAGS } from './usage.js';

/** A small `depot` with the shapes of the real one: build, dev and a nested `context ls`. */
function program(): Command {
  const p = new Command('depot').version('1.2.3');
  p.command('build')
    .argument('[path]')
    .option('-t, --tag <name>')
    .option('--progress <mode>')
    .action(() => {});
  p.command('dev')
    .argument('[path]')
    .action(() => {});
  p.command('context')
    .command('ls')
    .option('--json')
    .action(() => {});
  throwUsageErrors(p);
  return p;
}

/** The error a command line ends with (parse is synchronous here: no async actions). */
function failure(args: string[]): unknown {
  try {
    program().parse(['node', 'depot', ...args]);
  } catch (err) {
    return err;
  }
  return undefined;
}

test('an unknown flag is one line naming the flag and the command', () => {
  for (const [args, message] of [
    [['build', '--foo', '.'], 'unknown flag --foo for depot build; see depot build --help'],
    [['build', '--foo=1', '.'], 'unknown flag --foo for depot build; see depot build --help'],
    [['context', 'ls', '-z'], 'unknown flag -z for depot context ls; see depot context ls --help'],
  ] as const) {
    const err = failure([...args]);
    assert.ok(err instanceof DepotError, String(err));
    assert.equal(err.code, 'unknown_flag');
    assert.equal(err.message, message);
  }
});

test('every docker build flag not supported yet is named as such, by build and dev', () => {
  const buildTakes = new Set(['--check', '--output', '-o']);
  for (const cmd of ['build', 'dev'])
    for (const flag of UNSUPPORTED_DOCKER_BUILD_FLAGS) {
      if (cmd === 'build' && buildTakes.has(flag)) continue;
      const err = failure([cmd, flag.startsWith('--') ? `${flag}=x` : `${flag}x`, '.']);
      assert.ok(err instanceof DepotError, `${cmd} ${flag}: ${String(err)}`);
      assert.equal(err.code, 'unsupported_flag');
      assert.equal(err.message, `${flag} is not supported yet by depot ${cmd}`);
    }
  // Elsewhere they are just unknown.
  const err = failure(['context', 'ls', '--network', 'host']);
  assert.equal((err as DepotError).code, 'unknown_flag');
});

test('other usage errors are one line with the help hint', () => {
  const err = failure(['build', '-t']);
  assert.ok(err instanceof DepotError);
  assert.match(err.message, /^option '-t, --tag <name>' argument missing; see depot build --help$/);
  const cmd = failure(['nope']);
  assert.equal((cmd as DepotError).message, 'unknown command nope; see depot --help');
});

test('help and version are not errors', () => {
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    const v = failure(['--version']);
    assert.ok(isHelpOrVersion(v));
    assert.equal(v.exitCode, 0);
    const h = failure(['build', '--help']);
    assert.ok(isHelpOrVersion(h));
    assert.equal(h.exitCode, 0);
  } finally {
    process.stdout.write = write;
  }
});
