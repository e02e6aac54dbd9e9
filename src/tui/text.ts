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

/**
 * Wraps text into lines of at most `width` cells, breaking after spaces where it can (a word
 * longer than a line is split); at most `maxLines` lines, the last one ending in `…` when cut.
 */
export function wrap(text: string, width: number, maxLines = Number.POSITIVE_INFINITY): string[] {
  const w = Math.max(1, Math.floor(width));
  const lines: string[] = [];
  let line = '';
  let used = 0;
  const push = () => {
    lines.push(line.trimEnd());
    line = '';
    used = 0;
  };
  for (const word of text.split(/(?<= )/)) {
    const ww = cellWidth(word.trimEnd());
    if (used > 0 && used + ww > w) push();
    for (const ch of word) {
      const cw = charWidth(ch);
      if (used + cw > w && ch !== ' ') push();
      if (used === 0 && ch === ' ' && lines.length > 0) continue;
      line += ch;
      used += cw;
    }
  }
  if (line.trimEnd() !== '' || lines.length === 0) push();
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, Math.max(1, maxLines));
  const last = kept.length - 1;
  kept[last] = truncate(`${kept[last]}…`, w);
  return kept;
}
