/**
 * Styled runs of text (segments), the lines the layouts produce, and the one component that
 * draws them. Colours follow NO_COLOR: a view rendered without colours keeps every glyph and
 * word (the layouts put all meaning there) and only loses the colours.
 */
import { Text } from 'ink';
import { createContext, type ReactNode, useContext } from 'react';
import { cellWidth, truncate } from './text.js';

/** A run of text in one style; lines are lists of segments. */
export interface Segment {
  text: string;
  color?: 'green' | 'red' | 'yellow' | 'cyan' | 'blue' | 'magenta' | 'gray';
  dim?: boolean;
  bold?: boolean;
  inverse?: boolean;
}

/** Cells the segments occupy. */
export function segmentsWidth(segments: readonly Segment[]): number {
  let w = 0;
  for (const s of segments) w += cellWidth(s.text);
  return w;
}

/** Cuts segments to `width` cells, ending in `…` where text was cut. */
export function fitSegments(segments: readonly Segment[], width: number): Segment[] {
  if (segmentsWidth(segments) <= width) return [...segments];
  const out: Segment[] = [];
  let left = width;
  for (const s of segments) {
    if (left <= 0) break;
    const w = cellWidth(s.text);
    if (w < left) {
      out.push(s);
      left -= w;
      continue;
    }
    // More text follows this segment, so it is cut even when it would exactly fill the line.
    out.push({ ...s, text: truncate(w > left ? s.text : `${s.text}…`, left) });
    break;
  }
  return out;
}

/** Segments as plain text (tests, plain output). */
export function segmentsText(segments: readonly Segment[]): string {
  return segments.map((s) => s.text).join('');
}

/** Whether the environment asks for no colours (NO_COLOR set and not empty, see no-color.org). */
export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NO_COLOR ?? '') !== '';
}

const ColorContext = createContext(true);

/** Turns colours off (or on) for the segment lines below it. */
export function ColorMode({ color, children }: { color: boolean; children: ReactNode }) {
  return <ColorContext.Provider value={color}>{children}</ColorContext.Provider>;
}

/** The colour to draw with: the one asked for, or none under ColorMode off. */
export function useColor(): (color: Segment['color']) => Segment['color'] {
  const on = useContext(ColorContext);
  return (color) => (on ? color : undefined);
}

/** One line of segments, cut at the width the parent gives it; colours dropped under ColorMode off. */
export function SegmentLine({ segments }: { segments: readonly Segment[] }) {
  const color = useContext(ColorContext);
  if (segments.length === 0) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {segments.map((s, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: segments are positional
        <Text key={i} color={color ? s.color : undefined} dimColor={s.dim} bold={s.bold} inverse={s.inverse}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
