import { Box, Text } from 'ink';
import { type BuildState, formatBytes, formatDuration, shortDigest, summarize } from '../progress/index.js';
import { buildCauseText } from './lane-layout.js';
import { progressLineText, workInProgress } from './progress-line.js';
import { useColor } from './segments.js';
import { cellWidth, sanitize, truncate } from './text.js';

/** Daemon messages (warnings) listed under the summary; older ones are dropped. */
const MAX_SHOWN_MESSAGES = 5;

/** Props of BuildSummary. */
export interface BuildSummaryProps {
  state: BuildState;
  width: number;
  /** clock for the running duration; defaults to the latest event time */
  nowMs?: number;
}

/**
 * `steps 9 · cached 6 · 2.1s · synced 1.2kB · loaded 12kB of 5.4MB`, with `⟳ first build` after
 * the counts when the build's misses have one cause (see buildCauseText); the image size goes
 * first when the line is wider than `width`.
 */
export function summaryText(
  state: BuildState,
  nowMs: number = state.nowMs,
  width: number = Number.POSITIVE_INFINITY,
): string {
  const sum = summarize(state);
  const running = state.result === null;
  const duration = running && state.startedMs > 0 ? Math.max(0, nowMs - state.startedMs) : sum.durationMs;
  const parts = [
    running ? `steps ${sum.steps}/${sum.seen}` : `steps ${sum.steps}`,
    sum.reused ? `cached ${sum.cached} (${sum.reused} ↺ smart cache)` : `cached ${sum.cached}`,
    buildCauseText(state),
    formatDuration(duration),
  ].filter(Boolean);
  if (state.sync?.ackedMs) parts.push(`synced ${formatBytes(sum.bytesSynced)}`);
  const loaded = state.load?.finishedMs ? `loaded ${formatBytes(sum.bytesLoaded)}` : '';
  const full = [...parts, ...(loaded ? [`${loaded} of ${formatBytes(sum.imageSize)}`] : [])].join(' · ');
  return cellWidth(full) <= width || !loaded ? full : [...parts, loaded].join(' · ');
}

/** Totals line plus the outcome: the short image id and tags, or the error; then daemon warnings. */
export function BuildSummary({ state, width, nowMs = state.nowMs }: BuildSummaryProps) {
  const result = state.result;
  const load = state.load;
  const work = workInProgress(state);
  const nothingSent = load !== null && load.finishedMs > 0 && load.bytes === 0 && load.layersSent === 0;
  const paint = useColor();
  return (
    <Box flexDirection="column" width={width}>
      {state.notes.slice(-MAX_SHOWN_MESSAGES).flatMap((m, i) =>
        m.text.split('\n').map((text, j) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: notes only ever append
          <Text key={`n${i}.${j}`} dimColor wrap="truncate-end">
            {truncate(sanitize(text), width)}
          </Text>
        )),
      )}
      {work ? (
        <Text color={paint('cyan')} wrap="truncate-end">
          {progressLineText(work.label, work.figures, width)}
        </Text>
      ) : null}
      <Text dimColor={result === null} wrap="truncate-end">
        {truncate(summaryText(state, nowMs, width), width)}
      </Text>
      {result?.ok ? (
        <Text wrap="truncate-end">
          <Text color={paint('green')}>✔</Text> image {shortDigest(result.imageId)}
          {load && load.tags.length > 0 ? ` (${load.tags.join(', ')})` : ''}
          {load && load.finishedMs === 0 ? ' · loading into the local engine…' : ''}
          {load && load.finishedMs > 0 && !nothingSent
            ? ` · ${load.layersSent}/${load.layersTotal} layers sent`
            : ''}
          {nothingSent && !load.note ? ' · already in the local engine' : ''}
        </Text>
      ) : null}
      {result && !result.ok ? (
        <Text color={paint('red')} wrap="wrap">
          ✖ {result.error || `build failed${result.errorCode ? ` (${result.errorCode})` : ''}`}
        </Text>
      ) : null}
      {state.messages.slice(-MAX_SHOWN_MESSAGES).flatMap((m, i) =>
        m.text.split('\n').map((text, j) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: messages only ever append
          <Text key={`${i}.${j}`} color={paint('yellow')} wrap="truncate-end">
            ! {truncate(sanitize(text), Math.max(0, width - 2))}
          </Text>
        )),
      )}
      {load?.note ? (
        <Text dimColor wrap="wrap">
          note: {load.note}
        </Text>
      ) : null}
    </Box>
  );
}
