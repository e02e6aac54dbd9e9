import type { Key } from 'ink';

/**
 * The key presses in one input chunk. Ink hands a handler each chunk the terminal delivered as one
 * input: keys typed faster than a render (`jj`, `j` then enter, tmux's `send-keys Down Enter`) or
 * pasted reach it as one string, matching no key, and would be lost. A chunk of plain characters
 * is split into its keys here (enter, tab, backspace and Ctrl-C included); a chunk holding an
 * escape sequence, or already read as one key, is kept as Ink read it.
 */
export function eachKey(input: string, key: Partial<Key>): [string, Partial<Key>][] {
  if (input.length <= 1 || key.meta || key.ctrl || input.includes('\u001B')) return [[input, key]];
  return [...input].map((ch): [string, Partial<Key>] => {
    if (ch === '\r' || ch === '\n') return ['', { return: true }];
    if (ch === '\t') return ['', { tab: true }];
    if (ch === '\u007F' || ch === '\b') return ['', { backspace: true }];
    if (ch === '\u0003') return ['c', { ctrl: true }];
    return [ch, {}];
  });
}
