import { Box, useInput, useStdin } from 'ink';
import { useRef, useSyncExternalStore } from 'react';
import { type DashboardLine, layoutDashboard } from './dashboard-layout.js';
import { type DashboardCommand, type DashboardState, dashboardCommandForKey } from './dashboard-state.js';
import { eachKey } from './key-chunks.js';
import { SegmentLine } from './segments.js';
import { useTerminalSize } from './use-terminal-size.js';

/** Props of Dashboard. */
export interface DashboardProps {
  state: DashboardState;
  /** Receives the command of every key press; the view never changes state itself. */
  onCommand: (command: DashboardCommand) => void;
  /** columns; defaults to the terminal's (following resizes) */
  width?: number;
  /** rows; defaults to the terminal's */
  height?: number;
  /** clock for running builds; defaults to `state.nowMs` */
  nowMs?: number;
}

/** One laid-out line. */
export function DashboardLineView({ line }: { line: DashboardLine }) {
  return <SegmentLine segments={line.segments} />;
}

/**
 * `depot dashboard`, a pure function of DashboardState: header with window and view tabs, team
 * totals, then the view (overview, projects, users, busters) and the key hint. Fits
 * `width`×`height` and leaves the last row free: Ink's cursor sits under the output, and a frame
 * as tall as the terminal would make Ink clear the screen on every render.
 */
export function Dashboard({ state, onCommand, width, height, nowMs = state.nowMs }: DashboardProps) {
  const terminal = useTerminalSize();
  const w = width ?? terminal.columns;
  const h = height ?? terminal.rows;
  const { isRawModeSupported } = useStdin();
  const onCommandRef = useRef(onCommand);
  onCommandRef.current = onCommand;
  // Keys depend on the open drill: the handler reads the latest through a ref.
  const drillRef = useRef(state.drill);
  drillRef.current = state.drill;
  useInput(
    (chunk, chunkKey) => {
      for (const [input, key] of eachKey(chunk, chunkKey)) {
        const command = dashboardCommandForKey(input, key, drillRef.current);
        if (command) onCommandRef.current(command);
      }
    },
    // Ink reads `stdin.isTTY`, undefined on a pipe; anything but `false` would ask for raw mode and throw.
    { isActive: isRawModeSupported === true },
  );
  const lines = layoutDashboard(state, { width: w, rows: h - 1, nowMs });
  return (
    <Box flexDirection="column" width={w}>
      {lines.map((line) => (
        <DashboardLineView key={line.key} line={line} />
      ))}
    </Box>
  );
}

/** A store of DashboardState the screen follows (the dashboard controller is one). */
export interface DashboardStore {
  getState(): DashboardState;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  dispatch(command: DashboardCommand): void;
}

/** Props of DashboardScreen. */
export interface DashboardScreenProps {
  store: DashboardStore;
  width?: number;
  height?: number;
  /** local clock for running builds (default Date.now) */
  now?: () => number;
}

/** `<Dashboard>` following a store: re-renders on every change, sends keys to `store.dispatch`. */
export function DashboardScreen({ store, width, height, now = Date.now }: DashboardScreenProps) {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return (
    <Dashboard
      state={state}
      onCommand={(c) => store.dispatch(c)}
      width={width}
      height={height}
      nowMs={Math.max(state.nowMs, now())}
    />
  );
}
