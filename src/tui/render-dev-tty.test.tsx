import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { reduceDev } from '../dev/reducer.js';
import type { DevCommand, DevEvent, DevState } from '../dev/types.js';
import { connectedEvents, devStateOf, runningActions, T } from './dev-fixtures.js';
import { renderDevTty } from './render-dev-tty.js';

class FakeStdout extends EventEmitter {
  columns = 80;
  rows = 24;
  isTTY = true;
  chunks: string[] = [];
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  raw(): string {
    return this.chunks.join('');
  }
  text(): string {
    return stripVTControlCharacters(this.raw());
  }
}

/** Enough of a TTY stdin for Ink: raw mode is recorded. */
class FakeStdin extends EventEmitter {
  isTTY = true;
  rawMode: boolean[] = [];
  private data: string | null = null;
  write(data: string): void {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read(): string | null {
    const d = this.data;
    this.data = null;
    return d;
  }
  setRawMode(on: boolean): void {
    this.rawMode.push(on);
  }
  setEncoding(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

/** The part of the dev store renderDevTty uses, over a plain state. */
function fakeStore(initial: DevState) {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    getState: () => state,
    subscribe(fn: () => void) {
      listeners.add(fn);
      return () => {
        listeners.delete(fn);
      };
    },
    dispatch(e: DevEvent | DevCommand) {
      state = reduceDev(state, e);
      for (const fn of listeners) fn();
    },
    listeners,
  };
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('renderDevTty draws on the alternate screen, follows the store and restores the terminal', async () => {
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  const store = fakeStore(devStateOf(connectedEvents(), 0, 0));
  const commands: DevCommand[] = [];
  const tty = renderDevTty({
    store,
    onCommand: (c) => commands.push(c),
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
  });
  assert.ok(stdout.raw().startsWith('\u001B[?1049h'), 'enters the alternate screen first');
  await waitFor(() => /● connected 3ms/.test(stdout.text()));
  await waitFor(() => stdin.rawMode.includes(true));
  // Store changes re-render (throttled, so wait for the frame).
  for (const e of runningActions().slice(connectedEvents().length)) store.dispatch(e);
  await waitFor(() => /build #2 · change: src\/app\.js/.test(stdout.text()));
  // Keys become commands; Ctrl-C does not exit Ink.
  stdin.write('r');
  stdin.write('\u0003');
  await waitFor(() => commands.length === 2);
  assert.deepEqual(commands, [{ type: 'rebuild/requested' }, { type: 'quit/requested' }]);
  await tty.close();
  assert.equal(stdin.rawMode.at(-1), false, 'raw mode is off again');
  assert.ok(stdout.raw().endsWith('\u001B[?1049l'), 'leaves the alternate screen last');
  assert.equal(store.listeners.size, 0, 'unsubscribed');
  // Idempotent, and later changes and keys are ignored.
  const written = stdout.chunks.length;
  await tty.close();
  store.dispatch({ type: 'watch/paused', timeMs: T + 99_000 });
  stdin.write('q');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(stdout.chunks.length, written);
  assert.equal(commands.length, 2);
});

test('renderDevTty frames fit the terminal and follow its resizes, whatever ui sizes say', async () => {
  const stdout = new FakeStdout();
  // Stale sizes in the state (no ui/resized dispatched): the terminal wins.
  const store = fakeStore(devStateOf(runningActions(), 120, 40));
  const tty = renderDevTty({
    store,
    onCommand: () => {},
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
    alternateScreen: false,
  });
  await waitFor(() => /RUN npm run build/.test(stdout.text()));
  assert.ok(!stdout.raw().includes('\u001B[?1049h'));
  // Every frame starts with the header; control sequences (erase, cursor moves) are stripped.
  const lastFrame = () => {
    const text = stdout.text();
    return text
      .slice(text.lastIndexOf('depot dev'))
      .split('\n')
      .filter((l) => l !== '');
  };
  for (const l of lastFrame()) assert.ok(l.length <= 80, l);
  stdout.columns = 50;
  stdout.rows = 14;
  stdout.emit('resize');
  await waitFor(
    () => lastFrame().length > 0 && lastFrame().length <= 13 && lastFrame().every((l) => l.length <= 50),
  );
  await tty.close();
});

test('renderDevTty keeps the running clock moving between events', async () => {
  const stdout = new FakeStdout();
  let clock = 0;
  const store = fakeStore(devStateOf(runningActions(), 80, 24));
  const tty = renderDevTty({
    store,
    onCommand: () => {},
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: new FakeStdin() as unknown as NodeJS.ReadStream,
    now: () => clock,
  });
  await waitFor(() => /RUN npm run build +0\.5s/.test(stdout.text()));
  // No event arrives; only the local clock moves, and the running step's duration with it.
  clock = 12_000;
  await waitFor(() => /RUN npm run build +12\.5s/.test(stdout.text()));
  await tty.close();
});

test('renderDevTty works with a stdin that is not a terminal: no keys, no raw mode', async () => {
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  stdin.isTTY = undefined as unknown as boolean;
  const tty = renderDevTty({
    store: fakeStore(devStateOf(runningActions(), 80, 24)),
    onCommand: () => assert.fail('no command without a terminal'),
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
  });
  await waitFor(() => /RUN npm run build/.test(stdout.text()));
  assert.doesNotMatch(stdout.text(), /ERROR|Raw mode/);
  stdin.write('q');
  await tty.close();
  assert.deepEqual(stdin.rawMode, []);
});
