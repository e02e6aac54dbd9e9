import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { normalizePlatform } from '../../../src/protocol/fleet/index.js';
import type { BuildEvent, BuilderHandlers } from '../../../src/protocol/index.js';
import {
  boundedLast,
  isCut,
  readTrace,
  type StatsGroupBy,
  type StatsWindow,
  type TraceEvent,
} from '../history/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { BUILD_ID_PATTERN, createSlots } from './limits.js';
import { RpcError, toStatus } from './rpc-error.js';

const STATS_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
const STATS_GROUPS: readonly StatsGroupBy[] = ['project', 'user', 'platform'];
/** Longest Dockerfile path and target a StepCosts request may name (longer ones match no build). */
const MAX_PATH = 4096;
const MAX_TARGET = 256;

/**
 * A request's platform as the builds record it (normalized, build.ts), so the question is asked the
 * same way; undefined for '' (every platform). A platform that is none is INVALID_ARGUMENT.
 */
function platformParam(platform: string): string | undefined {
  try {
    return platform ? normalizePlatform(platform) : undefined;
  } catch (err) {
    throw new RpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
  }
}

/** The capability Hello announces when the builder answers StepCosts. */
export const CAPABILITY_STEP_COSTS = 'history.step-costs';
/** The capability Hello announces when the builder answers ListBuilds and BuildTrace. */
export const CAPABILITY_BUILDS = 'history.builds';

/** ListBuilds: builds listed when the request says 0, and at most. */
export const LIST_BUILDS_DEFAULT = 20;
export const LIST_BUILDS_MAX = 500;
/** ListBuilds: the longest instruction `missed_step` may name. */
export const MAX_MISSED_STEP = 2048;
const RESULTS = new Set(['running', 'ok', 'failed', 'cancelled']);
/** A prefix shorter than this names a build only as its whole id. */
export const BUILD_ID_MIN_PREFIX = 4;
/** Traces one project reads at a time (each holds its compressed trace in memory). */
export const TRACE_READS_PER_PROJECT = 4;
/** A BuildTrace chunk carries about this much event text. */
const TRACE_CHUNK_BYTES = 256 * 1024;

/** Stats and WatchBuilds: the build history of the caller's project (an admin's: any or all). */
export function createHistoryHandlers(
  deps: ServerDeps,
): Pick<BuilderHandlers, 'Stats' | 'WatchBuilds' | 'StepCosts' | 'ListBuilds' | 'BuildTrace'> {
  const { history, feed, now, logCall } = deps;
  const traceReads = createSlots(
    TRACE_READS_PER_PROJECT,
    (project, max) => `project ${project} is reading ${max} build traces already, its limit: wait for one`,
  );
  return {
    ListBuilds(call, callback) {
      const started = Date.now();
      let caller: CallContext | undefined;
      (async () => {
        caller = await deps.auth.authorize(call);
        // Always one project, as StepCosts: an admin's, the one it names (else its default).
        const project = caller.historyProject ?? caller.project;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        const { limit, result, platform, missedStep } = call.request;
        if (missedStep.length > MAX_MISSED_STEP)
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `missed_step longer than ${MAX_MISSED_STEP} characters`,
          );
        if (result && !RESULTS.has(result))
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `unknown result "${result.slice(0, 32)}": use running, ok, failed or cancelled`,
          );
        const wanted = platformParam(platform);
        callback(
          null,
          await history.listBuilds({
            project,
            limit: Math.min(LIST_BUILDS_MAX, limit || LIST_BUILDS_DEFAULT),
            result: result || undefined,
            platform: wanted,
            missedStep: missedStep || undefined,
          }),
        );
        logCall('ListBuilds', caller, started);
      })().catch((err) => {
        logCall('ListBuilds', caller, started, err);
        callback(toStatus(err));
      });
    },

    BuildTrace(call) {
      const started = Date.now();
      let caller: CallContext | undefined;
      let release = () => {};
      (async () => {
        caller = await deps.auth.authorize(call);
        const project = caller.historyProject ?? caller.project;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        const id = call.request.buildId;
        if (!BUILD_ID_PATTERN.test(id))
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            'invalid build id: up to 128 letters, digits, ".", "_" and "-"',
          );
        release = traceReads.take(project);
        // Another project's build is as unknown as one nobody ran: the same answer, the same words.
        const found = await history.findBuild(project, id, id.length >= BUILD_ID_MIN_PREFIX);
        if (found.kind === 'none')
          throw new RpcError(grpc.status.NOT_FOUND, `no build ${id} in the project's history`);
        if (found.kind === 'ambiguous')
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `build id ${id} is the start of several builds' ids (${found.ids.join(', ')}): give more of it`,
          );
        const { record, dockerfile, trace } = found;
        // A reader that stops reading holds the stream (HTTP/2 flow control); one that goes away ends it.
        const write = async (chunk: Parameters<typeof call.write>[0]) => {
          if (call.write(chunk) || call.cancelled) return;
          const ac = new AbortController();
          await Promise.race([
            once(call, 'drain', { signal: ac.signal }),
            once(call, 'cancelled', { signal: ac.signal }),
          ]).catch(() => {});
          ac.abort();
        };
        await write({
          header: {
            record,
            dockerfile,
            events: trace?.events ?? 0,
            cut: trace && isCut(trace.cut) ? { ...trace.cut, maxBytes: trace.maxBytes } : undefined,
          },
        });
        if (trace) {
          let batch: { timeMs: number; event: BuildEvent }[] = [];
          let size = 0;
          for await (const t of readTrace(trace.data, trace.codec)) {
            if (call.cancelled) return;
            batch.push({ timeMs: t.timeMs, event: toWire(t.event) });
            size += 128 + (t.event.log?.data.length ?? 0);
            if (size >= TRACE_CHUNK_BYTES) {
              await write({ events: batch });
              batch = [];
              size = 0;
            }
          }
          if (batch.length) await write({ events: batch });
        }
        call.end();
        logCall('BuildTrace', caller, started);
      })()
        .catch((err) => {
          logCall('BuildTrace', caller, started, err);
          if (!call.cancelled) call.emit('error', toStatus(err));
        })
        .finally(() => release());
    },

    Stats(call, callback) {
      const started = Date.now();
      let caller: CallContext | undefined;
      (async () => {
        caller = await deps.auth.authorize(call);
        const scope = caller.historyProject;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        const window = (call.request.window || '24h') as StatsWindow;
        const groupBy = (call.request.groupBy || 'project') as StatsGroupBy;
        if (!STATS_WINDOWS.includes(window))
          throw new RpcError(grpc.status.INVALID_ARGUMENT, `unknown window "${window}": use 1h, 24h or 7d`);
        if (!STATS_GROUPS.includes(groupBy))
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `unknown grouping "${groupBy}": use project, user or platform`,
          );
        const stats = await history.stats({ window, groupBy, project: scope, now: now() });
        stats.running = feed.running().filter((b) => scope === undefined || b.project === scope);
        callback(null, stats);
        logCall('Stats', caller, started);
      })().catch((err) => {
        logCall('Stats', caller, started, err);
        callback(toStatus(err));
      });
    },

    StepCosts(call, callback) {
      const started = Date.now();
      let caller: CallContext | undefined;
      (async () => {
        caller = await deps.auth.authorize(call);
        // Always one project: a project token's own; an admin's, the one it asked for (or its
        // default), never every project's builds mixed into one line.
        const project = caller.historyProject ?? caller.project;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        const { dockerfilePath, target, platform, last } = call.request;
        if (dockerfilePath.length > MAX_PATH)
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            `dockerfile path longer than ${MAX_PATH} characters`,
          );
        if (target.length > MAX_TARGET)
          throw new RpcError(grpc.status.INVALID_ARGUMENT, `target longer than ${MAX_TARGET} characters`);
        const wanted = platformParam(platform);
        callback(
          null,
          await history.stepCosts({
            project,
            dockerfilePath,
            target,
            platform: wanted,
            last: boundedLast(last),
          }),
        );
        logCall('StepCosts', caller, started);
      })().catch((err) => {
        logCall('StepCosts', caller, started, err);
        callback(toStatus(err));
      });
    },

    WatchBuilds(call) {
      const started = Date.now();
      let caller: CallContext | undefined;
      let unsubscribe: (() => void) | undefined;
      const stop = () => {
        unsubscribe?.();
        unsubscribe = undefined;
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      (async () => {
        caller = await deps.auth.authorize(call);
        const scope = caller.historyProject;
        if (!history) throw new RpcError(grpc.status.UNIMPLEMENTED, 'this builder keeps no build history');
        if (call.cancelled) return;
        unsubscribe = feed.subscribe((summary) => {
          if (scope === undefined || summary.project === scope) call.write(summary);
        });
        // Headers now, so the client knows the watch is live before any build happens.
        call.sendMetadata(new grpc.Metadata());
        // Builds already running when the watcher arrived, so it never misses one in progress.
        for (const b of feed.running()) if (scope === undefined || b.project === scope) call.write(b);
        logCall('WatchBuilds', caller, started);
      })().catch((err) => {
        logCall('WatchBuilds', caller, started, err);
        stop();
        call.emit('error', toStatus(err));
      });
    },
  };
}

/** A traced event as the wire carries it again (log text back to bytes). */
function toWire(e: TraceEvent): BuildEvent {
  if (!e.log) return e as BuildEvent;
  return { ...e, log: { ...e.log, data: Buffer.from(e.log.data, 'utf8') } };
}
