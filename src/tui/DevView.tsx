import { Box, useInput, useStdin } from 'ink';
import { useRef } from 'react';
import type { DevCommand, DevState } from '../dev/types.js';
import { commandForKey } from './dev-keys.js';
import { afterBuildText, type DevLine, layoutDevScreen } from './dev-layout.js';
import { eachKey } from './key-chunks.js';
import { SegmentLine } from './segments.js';
import { useSpinner } from './use-spinner.js';
import { useTerminalSize } from './use-terminal-size.js';

/** Props of DevView. */
export interface DevViewProps {
  state: DevState;
  /** Receives the command of every key press; the view never changes state itself. */
  onCommand: (command: DevCommand) => void;
  /** clock for ages, countdowns and running durations; defaults to `state.nowMs` */
  nowMs?: number;
  /**
   * Size from the terminal (following its resizes) even when `ui.width`/`ui.height` are set:
   * a live screen must fit the terminal whether or not the loop reports resizes.
   */
  fitTerminal?: boolean;
}

/** Narrowest layout; narrower terminals get this width cut by the terminal. */
const MIN_WIDTH = 20;

function DevLineView({ line }: { line: DevLine }) {
  if (line.kind === 'blank') return <Box height={line.rows} />;
  return <SegmentLine segments={line.segments} />;
}

/**
 * The full-screen `depot dev` view, a pure function of DevState: header, the live layer graph of
 * the current build (the window around the selected or running step, rebuilt steps marked with
 * the changes that caused them), the scrollback of finished builds, the `--run` container and
 * the key hint. Fits `ui.width`×`ui.height`, or the terminal (following resizes) while those
 * are 0 or `fitTerminal` is set, and leaves the last row free: Ink's cursor sits under the output, and a frame as tall
 * as the terminal would make Ink clear the screen on every render.
 */
export function DevView({ state, onCommand, nowMs = state.nowMs, fitTerminal = false }: DevViewProps) {
  const terminal = useTerminalSize();
  const width = Math.max(MIN_WIDTH, state.ui.width > 0 && !fitTerminal ? state.ui.width : terminal.columns);
  const height = state.ui.height > 0 && !fitTerminal ? state.ui.height : terminal.rows;
  const { isRawModeSupported } = useStdin();
  // The handler reads the latest ui through a ref, so a key pressed between renders sees it.
  const ui = useRef(state.ui);
  ui.current = state.ui;
  const onCommandRef = useRef(onCommand);
  onCommandRef.current = onCommand;
  useInput(
    (chunk, chunkKey) => {
      for (const [input, key] of eachKey(chunk, chunkKey)) {
        const command = commandForKey(input, key, ui.current);
        if (command) onCommandRef.current(command);
      }
    },
    // Ink reads `stdin.isTTY`, undefined on a pipe; anything but `false` would ask for raw mode and throw.
    { isActive: isRawModeSupported === true },
  );
  const busy =
    state.current === undefined ||
    state.current.record.outcome === 'running' ||
    afterBuildText(state.current) !== '' ||
    state.snapshot.syncing;
  const frame = useSpinner(busy && !state.quitting);
  const lines = layoutDevScreen(state, { width, rows: height - 1, nowMs, frame });
  return (
    <Box flexDirection="column" width={width}>
      {lines.map((line) => (
        <DevLineView key={line.key} line={line} />
      ))}
    </Box>
  );
}
