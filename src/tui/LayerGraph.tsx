import { Box, Static, Text } from 'ink';
import { useRef } from 'react';
import type { BuildState } from '../progress/index.js';
import { type GraphRow, layoutGraph, MAX_WAITING_ROWS, settledCount, syncText } from './graph-layout.js';
import { StepRow } from './StepRow.js';
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
}

type StaticItem = { key: string; kind: 'sync'; text: string } | { key: string; kind: 'step'; row: GraphRow };

/**
 * The live layer graph: one row per step in order of first appearance. Settled rows go to
 * `<Static>` (printed once, in order); running and waiting rows re-render below them.
 */
export function LayerGraph({ state, width, nowMs = state.nowMs, final = false }: LayerGraphProps) {
  const rows = layoutGraph(state, width, nowMs);
  const syncPending = state.sync !== null && state.sync.ackedMs === 0;
  // Steps may only follow the sync line into <Static> once it is settled, or it would print after them.
  let settled = syncPending && !final ? 0 : final ? rows.length : settledCount(state);
  // <Static> prints items by index; never let the settled prefix shrink (a step can re-run).
  const maxSettled = useRef(0);
  const syncIsStatic = useRef(false);
  const stepsWereStatic = maxSettled.current > 0;
  settled = Math.max(settled, Math.min(maxSettled.current, rows.length));
  maxSettled.current = settled;

  const items: StaticItem[] = [];
  const sync = syncText(state);
  // A sync reported after steps were printed cannot be inserted above them any more.
  if (state.sync && !syncPending && (syncIsStatic.current || !stepsWereStatic)) {
    syncIsStatic.current = true;
    items.push({ key: 'sync', kind: 'sync', text: sync });
  }
  for (const row of rows.slice(0, settled)) items.push({ key: row.digest, kind: 'step', row });

  const live = rows.slice(settled);
  const running = live.some((r) => r.phase === 'running') || (syncPending && !final);
  const frame = useSpinner(running && !final);
  const shown: GraphRow[] = [];
  let waitingShown = 0;
  let waitingHidden = 0;
  for (const row of live) {
    if (row.phase !== 'waiting') shown.push(row);
    else if (waitingShown < MAX_WAITING_ROWS) {
      shown.push(row);
      waitingShown++;
    } else waitingHidden++;
  }

  return (
    <Box flexDirection="column" width={width}>
      <Static items={items}>
        {(item) =>
          item.kind === 'sync' ? (
            <Text key={item.key} wrap="truncate-end">
              <Text color="green">✔</Text> {item.text}
            </Text>
          ) : (
            <StepRow key={item.key} row={item.row} frame="" />
          )
        }
      </Static>
      {syncPending && !final ? (
        <Text wrap="truncate-end">
          <Text color="cyan">{frame}</Text> {sync}
        </Text>
      ) : null}
      {shown.map((row) => (
        <StepRow key={row.digest} row={row} frame={frame} />
      ))}
      {waitingHidden > 0 ? (
        <Text dimColor wrap="truncate-end">
          · … {waitingHidden} more step{waitingHidden === 1 ? '' : 's'} waiting
        </Text>
      ) : null}
    </Box>
  );
}
