import { Box, useInput, useStdin } from 'ink';
import { useRef, useState } from 'react';
import type { BuildState } from '../progress/index.js';
import { commandForKey } from './dev-keys.js';
import { eachKey } from './key-chunks.js';
import {
  applyReplayCommand,
  INITIAL_REPLAY_UI,
  layoutReplayScreen,
  type ReplayTitle,
  type ReplayUi,
} from './replay-layout.js';
import { SegmentLine } from './segments.js';
import { useTerminalSize } from './use-terminal-size.js';

/** Props of ReplayView. */
export interface ReplayViewProps {
  /** the recorded build, replayed to its end */
  state: BuildState;
  title: ReplayTitle;
  notes?: readonly string[];
  /** called once when the reader quits (q, Ctrl-C) */
  onQuit: () => void;
  /** the clock "… ago" is told from */
  nowMs: number;
  /** the ui to start from (tests) */
  initialUi?: ReplayUi;
}

/**
 * A recorded build to explore, full screen: `depot dev`'s keys move the selection through the
 * graph (↑/↓, k/j, page keys), enter shows the selected step's details and log, `w` the waterfall,
 * `i` BuildKit's own steps, `q` or Ctrl-C quits. Leaves the last row free, as DevView does.
 */
export function ReplayView({ state, title, notes, onQuit, nowMs, initialUi }: ReplayViewProps) {
  const terminal = useTerminalSize();
  const { isRawModeSupported } = useStdin();
  const [ui, setUi] = useState<ReplayUi>(initialUi ?? INITIAL_REPLAY_UI);
  // The handler reads the latest ui through a ref, so a key pressed between renders sees it.
  const current = useRef(ui);
  current.current = ui;
  const quit = useRef(onQuit);
  quit.current = onQuit;
  useInput(
    (chunk, chunkKey) => {
      for (const [input, key] of eachKey(chunk, chunkKey)) {
        const command = commandForKey(input, key, { showHelp: false, showLogs: current.current.details });
        if (!command) continue;
        const next = applyReplayCommand(current.current, command, state);
        if (next === 'quit') {
          quit.current();
          return;
        }
        if (next !== current.current) {
          current.current = next;
          setUi(next);
        }
      }
    },
    // Ink reads `stdin.isTTY`, undefined on a pipe; anything but `false` would ask for raw mode and throw.
    { isActive: isRawModeSupported === true },
  );
  const lines = layoutReplayScreen(state, ui, {
    width: Math.max(20, terminal.columns),
    rows: terminal.rows - 1,
    title,
    notes,
    nowMs,
  });
  return (
    <Box flexDirection="column" width={Math.max(20, terminal.columns)}>
      {lines.map((segments, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a screen of lines, redrawn whole
        <SegmentLine key={i} segments={segments} />
      ))}
    </Box>
  );
}
