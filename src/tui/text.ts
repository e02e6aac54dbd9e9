/**
 * Terminal cell widths for laying rows out to a fixed width. Deliberately small: combining
 * marks count 0, East Asian wide and emoji code points 2, everything else 1.
 */

// [first, last] code point ranges; East Asian wide and common emoji blocks.
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];
// Combining marks, zero-width spaces and joiners, variation selectors.
const ZERO: readonly [number, number][] = [
  [0x0300, 0x036f],
  [0x200b, 0x200f],
  [0xfe00, 0xfe0f],
];

const inRanges = (cp: number, ranges: readonly [number, number][]) =>
  ranges.some(([lo, hi]) => cp >= lo && cp <= hi);

// Control characters (tabs, escapes, stray \r) would break the fixed layout; show them as spaces.
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;

/** Replaces control characters so a log line cannot move the cursor. */
export function sanitize(text: string): string {
  return text.replace(/\t/g, '  ').replace(CONTROL, ' ');
}

function charWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (inRanges(cp, ZERO)) return 0;
  return inRanges(cp, WIDE) ? 2 : 1;
}

/** Cells the text occupies in a terminal. */
export function cellWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/** Cuts text to at most `width` cells, ending in `…` when it was cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (cellWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Truncates, then pads with spaces on the right to exactly `width` cells. */
export function padEnd(text: string, width: number): string {
  const t = truncate(text, width);
  return t + ' '.repeat(Math.max(0, width - cellWidth(t)));
}
