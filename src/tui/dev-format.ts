/**
 * Text of the `depot dev` screens, shared by the Ink view and the plain renderer. Pure: every
 * function depends only on its arguments (no Ink, no clock).
 */
import type {
  BuildRecord,
  BuildTrigger,
  ContainerState,
  PendingBuild,
  SessionStatus,
  SnapshotState,
  WatchState,
} from '../dev/types.js';
import { type BuildState, formatBytes, formatDuration, stepPhase } from '../progress/index.js';
import type { Segment } from './segments.js';
import { sanitize } from './text.js';

/** `src/app.js, src/lib.js (+3)`: the first `max` paths and how many more. */
export function pathsText(paths: readonly string[], max = 2): string {
  const shown = paths.slice(0, Math.max(1, max)).map(sanitize).join(', ');
  const more = paths.length - Math.max(1, max);
  return more > 0 ? `${shown} (+${more})` : shown;
}

/** Why a build ran: `change: src/app.js, src/lib.js (+3)`, `initial build`, `manual rebuild`. */
export function triggerText(trigger: BuildTrigger, maxPaths = 2): string {
  switch (trigger.reason) {
    case 'initial':
      return 'initial build';
    case 'manual':
      return trigger.paths.length > 0
        ? `manual rebuild · ${pathsText(trigger.paths, maxPaths)}`
        : 'manual rebuild';
    default:
      return trigger.paths.length > 0 ? `change: ${pathsText(trigger.paths, maxPaths)}` : 'change';
  }
}

/** The rebuilt-because mark of a step: `← src/app.js +2`. */
export function rebuiltMark(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  return `← ${sanitize(paths[0] ?? '')}${paths.length > 1 ? ` +${paths.length - 1}` : ''}`;
}

/** `3s ago`, `2m ago`, `1h ago`. */
export function ageText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** A short wait: `120ms` under a second, else `1.2s`. */
export function waitText(ms: number): string {
  const safe = Math.max(0, Math.round(ms));
  return safe < 1000 ? `${safe}ms` : formatDuration(safe);
}

/** Local wall-clock time of day, `12:03:04`. */
export function clockText(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The first non-empty line of an error, control characters removed. */
export function firstLine(text: string): string {
  return sanitize(text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

/** Every non-empty line of an error, joined into one, control characters removed. */
export function wholeText(text: string): string {
  return text
    .split('\n')
    .map((l) => sanitize(l).trim())
    .filter((l) => l !== '')
    .join(' ');
}

/** `<what> failed: <error>` without repeating a prefix the error already carries. */
export function failedText(what: string, error: string): string {
  const msg = firstLine(error);
  if (msg === '') return `${what} failed`;
  return msg.toLowerCase().startsWith(`${what} failed`) ? msg : `${what} failed: ${msg}`;
}

/** A digest or id without its algorithm, cut to 12 characters: `abcdef012345`. */
export function shortId(id: string): string {
  const colon = id.indexOf(':');
  return (colon < 0 ? id : id.slice(colon + 1)).slice(0, 12);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Who the session talks to: `bld-abc123 (linux/amd64)`, or the url while not connected. */
export function builderText(session: SessionStatus): string {
  if (session.kind === 'connected')
    return session.platform ? `${session.builderId} (${session.platform})` : session.builderId;
  return session.url;
}

/** `● connected 3ms`, `◌ connecting`, `↻ reconnecting (attempt 3) — connection refused`. */
export function sessionSegments(session: SessionStatus): Segment[] {
  switch (session.kind) {
    case 'connected':
      return [{ text: '●', color: 'green' }, { text: ` connected ${Math.round(session.latencyMs)}ms` }];
    case 'connecting':
      return [{ text: '◌', color: 'cyan' }, { text: ' connecting' }];
    default: {
      const why = firstLine(session.lastError);
      return [
        { text: '↻', color: 'yellow' },
        { text: ` reconnecting (attempt ${session.attempt})${why ? ` — ${why}` : ''}`, color: 'yellow' },
      ];
    }
  }
}

/** `snapshot abcdef01 (812 entries, 4s ago)`, `syncing…`, `no snapshot yet`. */
export function snapshotText(snapshot: SnapshotState, nowMs: number): string {
  const acked =
    snapshot.id === ''
      ? 'no snapshot yet'
      : `snapshot ${shortId(snapshot.id).slice(0, 8)} (${snapshot.entries} ${snapshot.entries === 1 ? 'entry' : 'entries'}, ${ageText(nowMs - snapshot.ackedMs)})`;
  if (!snapshot.syncing) return acked;
  return snapshot.id === '' ? 'syncing…' : `syncing… (${acked})`;
}

/** `watching`, `paused`, `polling (inotify limit…)`, plus `· 2 changes, quiet in 120ms`. */
export function watchSegments(watch: WatchState, nowMs: number): Segment[] {
  const message = firstLine(watch.message);
  const segs: Segment[] = [];
  switch (watch.status) {
    case 'watching':
      segs.push({ text: 'watching', color: 'green' });
      break;
    case 'paused':
      segs.push({ text: 'paused', color: 'yellow', bold: true });
      break;
    case 'polling':
      segs.push({ text: `polling${message ? ` (${message})` : ''}`, color: 'yellow' });
      break;
    case 'error':
      segs.push({ text: `watch error${message ? `: ${message}` : ''}`, color: 'red' });
      break;
    case 'starting':
      segs.push({ text: 'watch starting', dim: true });
      break;
    default:
      segs.push({ text: 'watch closed', dim: true });
  }
  if (watch.shared && watch.status !== 'closed') segs.push({ text: ' (agent)', dim: true });
  else if (watch.agentUnavailable && watch.status !== 'closed')
    segs.push({ text: ' (agent unavailable: in process)', color: 'yellow' });
  const n = watch.pendingPaths.length;
  if (n > 0) {
    const quiet = watch.quietUntilMs > nowMs ? `, quiet in ${waitText(watch.quietUntilMs - nowMs)}` : '';
    segs.push({ text: ` · ${plural(n, 'change')}${quiet}`, color: 'cyan' });
  }
  return segs;
}

/** `next build: waiting for the quiet period · 2 files`. */
export function pendingText(pending: PendingBuild): string {
  const n = pending.trigger.paths.length;
  return `next build: ${sanitize(pending.waitingFor) || 'queued'}${n > 0 ? ` · ${plural(n, 'file')}` : ''}`;
}

/** Wall time of a finished build, '' when unknown. */
function recordDuration(r: BuildRecord): string {
  return r.finishedMs > r.startedMs && r.startedMs > 0 ? formatDuration(r.finishedMs - r.startedMs) : '';
}

/**
 * One finished build for the scrollback and the plain log:
 * `9 steps, 7 cached · 1.2s · synced 1.1kB · loaded 12kB`, `failed: <error>`, `cancelled: <why>`.
 */
export function recordSummary(r: BuildRecord): string {
  if (r.outcome === 'failed') return `failed: ${firstLine(r.error) || 'build failed'}`;
  if (r.outcome === 'cancelled') return r.error ? `cancelled: ${firstLine(r.error)}` : 'cancelled';
  if (r.outcome === 'running') return 'running';
  const parts = [`${plural(r.stepsTotal, 'step')}, ${r.stepsCached} cached`];
  const took = recordDuration(r);
  if (took) parts.push(took);
  parts.push(`synced ${formatBytes(r.bytesSynced)}`);
  parts.push(`loaded ${formatBytes(r.bytesLoaded)}`);
  return parts.join(' · ');
}

/** The glyph and colour of a build outcome. */
export function outcomeGlyph(outcome: BuildRecord['outcome']): Segment {
  switch (outcome) {
    case 'ok':
      return { text: '✔', color: 'green' };
    case 'failed':
      return { text: '✖', color: 'red' };
    case 'cancelled':
      return { text: '⊘', color: 'yellow' };
    default:
      return { text: '·', color: 'cyan' };
  }
}

/** A scrollback line: `12:03:04 ✔ #3 9 steps, 7 cached · 1.2s · synced 1.1kB · loaded 12kB`. */
export function recordSegments(r: BuildRecord): Segment[] {
  const glyph = outcomeGlyph(r.outcome);
  return [
    { text: `${clockText(r.finishedMs || r.startedMs)} `, dim: true },
    glyph,
    { text: ` #${r.seq} ` },
    { text: recordSummary(r), color: r.outcome === 'failed' ? 'red' : undefined },
  ];
}

/** `● container depot-dev-app running (abc123)`, `container kept: build failed`, … */
export function containerSegments(c: ContainerState): Segment[] {
  const name = sanitize(c.name) || 'container';
  const id = c.id ? ` (${shortId(c.id)})` : '';
  const msg = firstLine(c.message);
  switch (c.status) {
    case 'none':
      return [
        { text: '○', dim: true },
        { text: ' container: waiting for the first build', dim: true },
      ];
    case 'starting': {
      const image = c.imageId ? ` from ${shortId(c.imageId)}` : '';
      const old = c.replacing ? ` · replacing ${sanitize(c.replacing)}` : '';
      return [{ text: '◌', color: 'cyan' }, { text: ` new container starting${image}…${old}` }];
    }
    case 'running': {
      const sync = c.sync ? ` · ${sanitize(firstLine(c.sync))}` : '';
      return [{ text: '●', color: 'green' }, { text: ` container ${name} running${id}${sync}` }];
    }
    case 'exited': {
      const sync = c.sync ? ` · ${sanitize(firstLine(c.sync))}` : '';
      return [
        { text: '■', color: 'yellow' },
        { text: ` container ${name} exited${id}${msg ? `: ${msg}` : ''}${sync}`, color: 'yellow' },
      ];
    }
    case 'kept':
      return [
        { text: '●', color: 'yellow' },
        { text: ` container ${name} kept${id}${msg ? `: ${msg}` : ''}` },
      ];
    default: {
      // Shown whole (the screen wraps it): the cause is often at the end of docker's message.
      const all = wholeText(c.message);
      return [
        { text: '✖', color: 'red' },
        { text: ` container ${name} failed${all ? `: ${all}` : ''}`, color: 'red' },
      ];
    }
  }
}

/**
 * The step the graph window centres on and `enter` shows the logs of: the selected one, else
 * the last running step, the failed one, the next waiting one, or the last; -1 without steps.
 */
export function focusedStep(build: BuildState, selected: number): number {
  const steps = build.steps;
  if (steps.length === 0) return -1;
  if (selected >= 0 && selected < steps.length) return selected;
  const phases = steps.map(stepPhase);
  const running = phases.lastIndexOf('running');
  if (running >= 0) return running;
  const failed = phases.indexOf('failed');
  if (failed >= 0) return failed;
  if (build.result === null) {
    const waiting = phases.indexOf('waiting');
    if (waiting >= 0) return waiting;
  }
  return steps.length - 1;
}

/** Rows shown of a list that does not fit, and whether the `↑ N earlier` / `↓ N more` lines show. */
export interface RowWindow {
  start: number;
  /** exclusive */
  end: number;
  above: boolean;
  below: boolean;
}

/** Rows after the focused one kept in view before earlier rows get the room: what runs next. */
const ROWS_AFTER_FOCUS = 2;

/**
 * The window of rows (with heights) around `focus` that fits `budget` lines, the indicator
 * lines for hidden rows included: a couple of rows after the focus first, then earlier rows,
 * then later ones.
 */
export function windowRows(heights: readonly number[], focus: number, budget: number): RowWindow {
  const n = heights.length;
  if (n === 0 || budget <= 0) return { start: 0, end: 0, above: n > 0, below: false };
  const f = Math.min(Math.max(0, focus), n - 1);
  const fit = (room: number): RowWindow => {
    let lo = f;
    let hi = f;
    let used = heights[f] ?? 1;
    let after = 0;
    while (hi + 1 < n && after < ROWS_AFTER_FOCUS && used + (heights[hi + 1] ?? 1) <= room) {
      hi++;
      after++;
      used += heights[hi] ?? 1;
    }
    while (lo > 0 && used + (heights[lo - 1] ?? 1) <= room) {
      lo--;
      used += heights[lo] ?? 1;
    }
    while (hi + 1 < n && used + (heights[hi + 1] ?? 1) <= room) {
      hi++;
      used += heights[hi] ?? 1;
    }
    return { start: lo, end: hi + 1, above: lo > 0, below: hi + 1 < n };
  };
  let room = budget;
  let w = fit(room);
  // Each indicator line costs a row; shrink until rows plus indicators fit.
  for (let i = 0; i < 3; i++) {
    const indicators = (w.above ? 1 : 0) + (w.below ? 1 : 0);
    if (windowHeight(heights, w) + indicators <= budget) return w;
    room = budget - indicators;
    w = fit(room);
  }
  return w;
}

function windowHeight(heights: readonly number[], w: RowWindow): number {
  let h = 0;
  for (let i = w.start; i < w.end; i++) h += heights[i] ?? 1;
  return h;
}
