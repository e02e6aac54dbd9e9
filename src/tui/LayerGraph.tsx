import { Box, Static } from 'ink';
import { useRef } from 'react';
import type { BuildState } from '../progress/index.js';
import { blockSettled, type LaneLine, lanesOf, layoutLanes, syncText } from './lane-layout.js';
import { SegmentLine } from './segments.js';
import { useSpinner } from './use-spinner.js';

/** Props of LayerGraph. */
export interface LayerGraphProps {
  state: BuildState;
  /** columns available; no row is wider */
  width: number;
  /** clock for running durations; defaults to the latest event time */
  nowMs?: number;
  /** the build view is closing: every row is settled and nothing spins */
  final?: boolean;
  /** list BuildKit's own vertices one per row instead of folding them */
  unfold?: boolean;
  /** digest of a step to mark as selected (`›` and inverse video) */
  selected?: string;
}

type StaticItem =
  | { key: string; kind: 'sync'; text: string }
  | { key: string; kind: 'block'; lines: LaneLine[] };

/**
 * The live layer graph as lanes (see lane-layout.ts). Settled parts (the folded header, each band
 * of lanes once its steps finished, the export line) go to `<Static>`, printed once and in order,
 * so a long build scrolls away above; the parts still running re-render below them.
 */
export function LayerGraph({
  state,
  width,
  nowMs = state.nowMs,
  final = false,
  unfold = false,
  selected,
}: LayerGraphProps) {
  const graph = lanesOf(state);
  const running = state.steps.some(
    (s) => s.startedMs > 0 && s.completedMs === 0 && !s.cached && s.error === '',
  );
  const syncPending = state.sync !== null && state.sync.ackedMs === 0;
  const frame = useSpinner((running || syncPending) && !final && state.result === null);
  const lines = layoutLanes(state, { width, nowMs, frame, unfold, live: !final, selected }, graph);
  const blocks: LaneLine['block'][] = [];
  for (const l of lines) if (!blocks.includes(l.block)) blocks.push(l.block);

  // Blocks may only follow the sync line into <Static> once it is settled, or it would print after them.
  let settled = 0;
  if (final) settled = blocks.length;
  else if (!syncPending)
    while (settled < blocks.length && blockSettled(state, lines, blocks[settled]!)) settled++;
  // <Static> prints items by index; never let the settled prefix shrink (a step can re-run).
  const maxSettled = useRef(0);
  const syncIsStatic = useRef(false);
  const blocksWereStatic = maxSettled.current > 0;
  settled = Math.max(settled, Math.min(maxSettled.current, blocks.length));
  maxSettled.current = settled;

  const items: StaticItem[] = [];
  const sync = syncText(state);
  // A sync reported after steps were printed cannot be inserted above them any more.
  if (state.sync && !syncPending && (syncIsStatic.current || !blocksWereStatic)) {
    syncIsStatic.current = true;
    items.push({ key: 'sync', kind: 'sync', text: sync });
  }
  for (const block of blocks.slice(0, settled))
    items.push({ key: block, kind: 'block', lines: lines.filter((l) => l.block === block) });
  const liveBlocks = new Set(blocks.slice(settled));
  const live = lines.filter((l) => liveBlocks.has(l.block));

  return (
    <Box flexDirection="column" width={width}>
      <Static items={items}>
        {(item) =>
          item.kind === 'sync' ? (
            <SegmentLine
              key={item.key}
              segments={[{ text: '✔', color: 'green' }, { text: ` ${item.text}` }]}
            />
          ) : (
            <Box key={item.key} flexDirection="column">
              {item.lines.map((l) => (
                <SegmentLine key={l.key} segments={l.segments} />
              ))}
            </Box>
          )
        }
      </Static>
      {syncPending && !final ? (
        <SegmentLine segments={[{ text: frame, color: 'cyan' }, { text: ` ${sync}` }]} />
      ) : null}
      {live.map((l) => (
        <SegmentLine key={l.key} segments={l.segments} />
      ))}
    </Box>
  );
}
