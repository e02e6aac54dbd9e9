import {
  type BuildState,
  formatProgress,
  type ProgressFigures,
  progressBar,
  progressRatio,
} from '../progress/index.js';
import { truncate } from './text.js';

/** Cells of the progress bar at most (it shrinks on narrow terminals). */
const MAX_BAR_CELLS = 24;

/** The long work under way (hashing, uploading the context, loading the image) and how far it is. */
export function workInProgress(state: BuildState): { label: string; figures: ProgressFigures } | null {
  const sync = state.sync;
  if (sync && sync.ackedMs === 0 && sync.progress)
    return { label: sync.progress.phase, figures: sync.progress };
  const load = state.load;
  if (load && load.finishedMs === 0 && load.progress) return { label: 'loading', figures: load.progress };
  return null;
}

/** `uploading ████████░░░░ 42% 900/2000 files · 12MB/40MB · 8MB/s · ETA 3s`, fit to `width`. */
export function progressLineText(label: string, figures: ProgressFigures, width: number): string {
  const ratio = progressRatio(figures);
  const pct = ratio === null ? '' : ` ${Math.floor(ratio * 100)}%`;
  const text = formatProgress(figures);
  const room = width - label.length - pct.length - text.length - 3;
  const cells = Math.min(MAX_BAR_CELLS, room);
  const bar = cells >= 5 ? ` ${progressBar(ratio, cells)}` : '';
  return truncate(`${label}${bar}${pct} ${text}`, width);
}
