import { Box, Text } from 'ink';
import type { GraphRow } from './graph-layout.js';

/** Props of StepRow. */
export interface StepRowProps {
  row: GraphRow;
  /** spinner frame shown while the step runs */
  frame: string;
  /**
   * Shown between the text and the right column (the dev view's `← src/app.js +2`); the caller
   * shortens `row.text` by its width so the row keeps its width.
   */
  mark?: string;
  /**
   * the dev view's selected step: a `›` after the glyph (visible without colours, e.g. under
   * NO_COLOR) and the rest of the row in inverse video
   */
  selected?: boolean;
}

const GLYPH_COLOR = {
  waiting: 'gray',
  running: 'cyan',
  done: 'green',
  cached: 'green',
  failed: 'red',
  canceled: 'yellow',
} as const;

function glyph(row: GraphRow, frame: string): string {
  switch (row.phase) {
    case 'running':
      return frame || '·';
    case 'done':
    case 'cached':
      return '✔';
    case 'failed':
      return '✖';
    case 'canceled':
      return '-';
    default:
      return '·';
  }
}

/**
 * One step of the layer graph: glyph, `#N`, stage, tree guide, instruction, why it missed the
 * cache (when known), right column; a failed step's logs below.
 */
export function StepRow({ row, frame, mark = '', selected = false }: StepRowProps) {
  const dim = row.phase === 'waiting' || row.phase === 'cached' || row.phase === 'canceled';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text color={GLYPH_COLOR[row.phase]}>{glyph(row, frame)}</Text>
        {selected ? (
          <Text color="cyan" bold>
            ›
          </Text>
        ) : (
          ' '
        )}
        <Text inverse={selected}>
          <Text dimColor={!selected} bold={selected}>
            {row.number}
          </Text>{' '}
          <Text color="magenta">{row.label}</Text>
          <Text dimColor={!selected}>{row.guide}</Text>
          <Text dimColor={dim && !selected} color={row.phase === 'failed' ? 'red' : undefined}>
            {row.text}
          </Text>
          {row.cause ? <Text color={row.phase === 'cached' ? 'green' : 'yellow'}>{row.cause}</Text> : null}
          {mark ? <Text color="yellow">{mark}</Text> : null}
          <Text
            color={row.phase === 'cached' ? 'blue' : row.phase === 'canceled' ? 'yellow' : undefined}
            dimColor={!selected && row.phase !== 'cached' && row.phase !== 'running'}
          >
            {row.right}
          </Text>
        </Text>
      </Text>
      {row.logs.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: log lines are positional and never reorder
        <Text key={i} color="red" dimColor wrap="truncate-end">
          {line}
        </Text>
      ))}
    </Box>
  );
}
