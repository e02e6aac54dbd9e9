import type { Key } from 'ink';
import type { DevCommand, UiState } from '../dev/types.js';

/** Steps a page key moves the selection. */
const PAGE_STEPS = 10;

/**
 * The command a key press stands for, or undefined: `r` rebuild, ↑/↓ (and k/j, page keys)
 * move the step selection (in the graph's order), enter toggles the logs, `i` lists or folds
 * BuildKit's own steps, `w` shows the build as a waterfall or as its graph, `p` pauses or resumes watching, `q` and
 * Ctrl-C quit, `?` toggles the help; escape closes the help, then the logs.
 */
export function commandForKey(
  input: string,
  key: Partial<Key>,
  ui: Pick<UiState, 'showHelp' | 'showLogs'>,
): DevCommand | undefined {
  if (key.ctrl && input === 'c') return { type: 'quit/requested' };
  if (key.upArrow) return { type: 'step/moved', delta: -1 };
  if (key.downArrow) return { type: 'step/moved', delta: 1 };
  if (key.pageUp) return { type: 'step/moved', delta: -PAGE_STEPS };
  if (key.pageDown) return { type: 'step/moved', delta: PAGE_STEPS };
  if (key.return) return { type: 'logs/toggled' };
  if (key.escape) {
    if (ui.showHelp) return { type: 'help/toggled' };
    if (ui.showLogs) return { type: 'logs/toggled' };
    return undefined;
  }
  if (key.ctrl || key.meta) return undefined;
  switch (input) {
    case 'r':
      return { type: 'rebuild/requested' };
    case 'k':
      return { type: 'step/moved', delta: -1 };
    case 'j':
      return { type: 'step/moved', delta: 1 };
    case 'p':
      return { type: 'watch/toggled' };
    case 'i':
      return { type: 'internal/toggled' };
    case 'w':
      return { type: 'waterfall/toggled' };
    case 'q':
      return { type: 'quit/requested' };
    case '?':
      return { type: 'help/toggled' };
    default:
      return undefined;
  }
}
