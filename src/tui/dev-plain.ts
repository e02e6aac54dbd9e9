/**
 * `depot dev --progress plain` (and any non-TTY output): one `[dev] …` line per fact, with the
 * BuildKit-style step lines of each build in between. No Ink here, so the CLI may import this
 * file directly without loading React.
 */
import type { BuildTrigger, DevEvent } from '../dev/types.js';
import {
  type BuildState,
  createPlainRenderer,
  formatBytes,
  formatDuration,
  formatProgress,
  initialBuildState,
  PLAIN_PROGRESS_INTERVAL_MS,
  type ProgressRenderer,
  reduceBuild,
  shortDigest,
  summarize,
} from '../progress/index.js';
import { failedText, firstLine, pathsText, shortId, triggerText, wholeText } from './dev-format.js';
import { sanitize } from './text.js';

/** A sink for dev-loop events; `close` prints what is still held back. */
export interface DevPlainRenderer {
  handle(event: DevEvent): void;
  close(): void;
}

interface PlainBuild {
  seq: number;
  startedMs: number;
  state: BuildState;
  steps: ProgressRenderer;
}

/** `(change: src/app.js (+2))`, `(initial build)`, `(manual rebuild)`. */
function why(trigger: BuildTrigger): string {
  return triggerText(trigger, 1);
}

/**
 * Prints `[dev] connected to bld-… (linux/amd64) 3ms`, `[dev] change: src/app.js (+2)`,
 * `[dev] synced sha256:… 1.1kB`, `[dev] build #3 started (change: src/app.js)`, the build's
 * BuildKit-style lines (a fresh plain renderer per build), `[dev] build #3 done: 9 steps,
 * 7 cached, 1.2s; loaded 12kB`, cancellations, failures and the `--run` container's facts.
 * Output depends only on the events.
 */
export function createDevPlainRenderer(
  write: (s: string) => void,
  opts: { progressIntervalMs?: number } = {},
): DevPlainRenderer {
  const progressInterval = opts.progressIntervalMs ?? PLAIN_PROGRESS_INTERVAL_MS;
  /** event time of the last progress line of the running sync or load, or of its start */
  let progressPrintedMs = 0;
  const line = (text: string) => write(`${text}\n`);
  const dev = (text: string) => line(`[dev] ${text}`);
  const builds = new Map<string, PlainBuild>();
  let seq = 0;
  let lastPending = '';
  let containerStarted = false;
  /** A finished build whose line waits for its load to add `; loaded 12kB`. */
  let held: { build: PlainBuild; text: string; buildId: string } | null = null;
  let closed = false;

  const flushHeld = () => {
    if (held) dev(held.text);
    held = null;
  };

  const doneText = (b: PlainBuild, finishedMs: number): string => {
    const sum = summarize(b.state);
    const took = formatDuration(Math.max(0, finishedMs - b.startedMs));
    return `build #${b.seq} done: ${sum.steps} step${sum.steps === 1 ? '' : 's'}, ${sum.cached} cached, ${took}`;
  };

  function handle(e: DevEvent): void {
    // A finished build's line waits for its load; anything else that happens prints it first.
    const forHeld =
      (e.type === 'load/finished' || e.type === 'load/started' || e.type === 'load/progressed') &&
      held?.buildId === e.buildId;
    if (!forHeld && e.type !== 'build/progressed' && e.type !== 'sync/progressed') flushHeld();
    switch (e.type) {
      case 'session/connecting':
        dev(`connecting to ${sanitize(e.url)}`);
        break;
      case 'session/connected':
        dev(
          `connected to ${e.builderId}${e.platform ? ` (${e.platform})` : ''} ${Math.round(e.latencyMs)}ms`,
        );
        break;
      case 'session/reconnecting':
        dev(`reconnecting (attempt ${e.attempt}): ${firstLine(e.error) || 'connection lost'}`);
        break;
      case 'watch/started':
        dev(
          `${e.polling ? `watching (polling${e.message ? `: ${firstLine(e.message)}` : ''})` : 'watching'}${e.shared ? ' through the local agent' : ''}`,
        );
        break;
      case 'agent/unavailable':
        dev(`local agent unavailable (${firstLine(e.reason)}): watching and syncing in this process`);
        break;
      case 'watch/changed':
        if (e.paths.length > 0) dev(`change: ${pathsText(e.paths, 1)}`);
        break;
      case 'watch/failed':
        dev(
          `watch failed: ${firstLine(e.message)}${e.polling ? '; polling instead' : '; changes are not seen, press r to rebuild'}`,
        );
        break;
      case 'ignore/failed':
        dev(wholeText(e.error));
        break;
      case 'ignore/fixed':
        dev('ignore rules valid again');
        break;
      case 'watch/paused':
        dev('watch paused');
        break;
      case 'watch/resumed':
        dev('watch resumed');
        break;
      case 'sync/started':
        progressPrintedMs = e.timeMs;
        break;
      case 'sync/progressed':
        if (e.timeMs - progressPrintedMs < progressInterval) break;
        progressPrintedMs = e.timeMs;
        dev(`${e.progress.phase} context: ${formatProgress(e.progress)}`);
        break;
      case 'load/started':
        progressPrintedMs = e.timeMs;
        break;
      case 'load/progressed':
        if (e.timeMs - progressPrintedMs < progressInterval) break;
        progressPrintedMs = e.timeMs;
        dev(`loading image: ${formatProgress(e.progress)}`);
        break;
      case 'sync/acked':
        dev(`synced ${shortDigest(e.snapshotId)}… ${formatBytes(e.bytesSent)}`);
        break;
      case 'sync/failed':
        dev(failedText('sync', e.error));
        break;
      case 'build/pending': {
        const text = `next build: ${sanitize(e.waitingFor)} (${why(e.trigger)})`;
        // The loop re-reports a pending build as it waits; print each new reason once.
        if (text !== lastPending) dev(text);
        lastPending = text;
        break;
      }
      case 'build/started': {
        lastPending = '';
        seq += 1;
        const b: PlainBuild = {
          seq,
          startedMs: e.timeMs,
          state: initialBuildState(),
          steps: createPlainRenderer(write),
        };
        builds.set(e.buildId, b);
        dev(`build #${seq} started (${why(e.trigger)})`);
        break;
      }
      case 'build/progressed': {
        const b = builds.get(e.buildId);
        if (!b) break;
        b.state = reduceBuild(b.state, e.event);
        b.steps.handle(e.event);
        break;
      }
      case 'build/cancelled': {
        const b = builds.get(e.buildId);
        builds.delete(e.buildId);
        dev(`build #${b?.seq ?? '?'} cancelled${e.reason ? `: ${firstLine(e.reason)}` : ''}`);
        break;
      }
      case 'build/finished': {
        const b = builds.get(e.buildId);
        builds.delete(e.buildId);
        if (!b) break;
        if (e.ok) held = { build: b, buildId: e.buildId, text: doneText(b, e.timeMs) };
        else dev(`build #${b.seq} failed: ${firstLine(e.error) || 'build failed'}`);
        break;
      }
      case 'load/finished':
        if (held?.buildId === e.buildId) {
          held.text += `; loaded ${formatBytes(e.bytes)}`;
          flushHeld();
        } else dev(`loaded ${formatBytes(e.bytes)}`);
        break;
      case 'load/failed':
        dev(failedText('load', e.error));
        break;
      case 'container/started':
        dev(`container ${sanitize(e.name)} ${containerStarted ? 'replaced' : 'started'} (${shortId(e.id)})`);
        containerStarted = true;
        break;
      case 'container/kept':
        dev(`container kept: ${firstLine(e.reason)}`);
        break;
      case 'container/logged':
        for (const l of e.lines) line(`[container] ${sanitize(l)}`);
        break;
      case 'container/exited':
        dev(`container exited with code ${e.code}`);
        break;
      case 'container/failed':
        dev(`container failed: ${wholeText(e.error)}`);
        break;
      case 'sync/rules':
        for (const r of e.rules) dev(`sync: ${sanitize(r)}`);
        break;
      case 'container/synced':
        dev(
          `synced ${e.files + e.deleted} file${e.files + e.deleted === 1 ? '' : 's'} in ${e.ms} ms${e.exec ? ` · ${sanitize(e.exec.command)} exited ${e.exec.exitCode}` : ''}${e.restarted ? ' · restarted' : ''}`,
        );
        break;
      case 'container/sync-skipped':
        dev(`not synced, rebuilding: ${firstLine(e.reason)}`);
        break;
      case 'container/sync-failed':
        dev(`sync failed, rebuilding: ${wholeText(e.error)}`);
        break;
      case 'container/sync-waiting':
        dev(`container not running: ${e.paths} change(s) wait for it`);
        break;
      case 'container/in-sync':
        dev(
          `image ${shortId(e.imageId)} loaded; the container already has its ${e.checked} synced path(s): kept`,
        );
        break;
      case 'container/drifted':
        dev(
          `container differs from the new image at ${e.paths.length} path(s): ${e.paths.slice(0, 3).join(', ')}; replacing`,
        );
        break;
      default:
        // sync/started, load/started, container/starting, session/latency, watch/closed and
        // ui/resized: too frequent, or the next line says it.
        break;
    }
  }

  return {
    handle(event) {
      if (!closed) handle(event);
    },
    close() {
      if (closed) return;
      flushHeld();
      closed = true;
    },
  };
}
