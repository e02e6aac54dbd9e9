import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DepotError } from '../session/index.js';
import {
  devOwner,
  dockerErrorText,
  dockerRunArgs,
  parseShellWords,
  splitRunArgs,
} from './container-runner.js';

describe('parseShellWords', () => {
  test('splits on runs of whitespace', () => {
    assert.deepEqual(parseShellWords('  -p 8080:80\t--rm \n -e A=1  '), [
      '-p',
      '8080:80',
      '--rm',
      '-e',
      'A=1',
    ]);
    assert.deepEqual(parseShellWords(''), []);
    assert.deepEqual(parseShellWords('   '), []);
  });

  test('single quotes are literal', () => {
    assert.deepEqual(parseShellWords(`-e 'A=hello world' 'a\\b' '$X "y"'`), [
      '-e',
      'A=hello world',
      'a\\b',
      '$X "y"',
    ]);
  });

  test('double quotes keep spaces and honour the shell escapes only', () => {
    assert.deepEqual(parseShellWords(`-e "A=a b" "q\\"x" "b\\\\s" "\\$HOME" "\\n"`), [
      '-e',
      'A=a b',
      'q"x',
      'b\\s',
      '$HOME',
      '\\n',
    ]);
  });

  test('quotes join with adjacent text into one word; empty quotes make an empty word', () => {
    assert.deepEqual(parseShellWords(`--env=A="x y"'z' '' ""`), ['--env=A=x yz', '', '']);
  });

  test('a backslash outside quotes escapes the next character; newline continuation joins', () => {
    assert.deepEqual(parseShellWords('a\\ b c\\"d e\\\nf'), ['a b', 'c"d', 'ef']);
  });

  test('unterminated quotes and a trailing backslash are errors', () => {
    for (const bad of [`"abc`, `'abc`, 'abc\\', `"a\\"`]) {
      assert.throws(
        () => parseShellWords(bad),
        (e: unknown) => e instanceof DepotError && e.code === 'invalid_flag',
        bad,
      );
    }
  });
});

describe('splitRunArgs / dockerRunArgs', () => {
  test('everything before the image; -- starts the command', () => {
    assert.deepEqual(splitRunArgs(['-p', '80:80', '--', 'sh', '-c', 'echo hi']), {
      options: ['-p', '80:80'],
      command: ['sh', '-c', 'echo hi'],
    });
    assert.deepEqual(splitRunArgs(['-p', '80:80']), { options: ['-p', '80:80'], command: [] });
    assert.deepEqual(splitRunArgs(['--', 'a', '--', 'b']), { options: [], command: ['a', '--', 'b'] });
  });

  test('builds the docker run argv with the label and name', () => {
    assert.deepEqual(dockerRunArgs(`--rm -e 'A=b c' -- sh -c "echo hi"`, 'sha256:abc', 'web'), [
      'run',
      '-d',
      '--label',
      'depot.dev=1',
      '--name',
      'web',
      '--rm',
      '-e',
      'A=b c',
      'sha256:abc',
      'sh',
      '-c',
      'echo hi',
    ]);
    assert.deepEqual(dockerRunArgs('', 'img'), ['run', '-d', '--label', 'depot.dev=1', 'img']);
  });
});

describe('dockerErrorText', () => {
  test('keeps every line but docker run --help advice, without the docker: prefix', () => {
    const stderr =
      'docker: Error response from daemon: driver failed programming external connectivity on endpoint x (1f): Bind for 0.0.0.0:18080 failed: port is already allocated.\n' +
      "See 'docker run --help'.\n";
    assert.equal(
      dockerErrorText(stderr),
      'Error response from daemon: driver failed programming external connectivity on endpoint x (1f): Bind for 0.0.0.0:18080 failed: port is already allocated.',
    );
  });

  test('devOwner: the same context, project and tags give the same owner', () => {
    assert.equal(devOwner('/a', 'p', ['x:dev', 'y']), devOwner('/a', 'p', ['y', 'x:dev']));
    assert.notEqual(devOwner('/a', 'p', ['x:dev']), devOwner('/b', 'p', ['x:dev']));
    assert.deepEqual(dockerRunArgs('', 'img', undefined, 'abc').slice(0, 6), [
      'run',
      '-d',
      '--label',
      'depot.dev=1',
      '--label',
      'dev.depot.owner=abc',
    ]);
  });
});
