import * as grpc from '@grpc/grpc-js';
import { normalizePlatform } from '../../../src/protocol/fleet/index.js';
import type { BuilderHandlers } from '../../../src/protocol/index.js';
import { boundedLast, type StatsGroupBy, type StatsWindow } from '../history/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { RpcError, toStatus } from './rpc-error.js';

const STATS_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
const STATS_GROUPS: readonly StatsGroupBy[] = ['project', 'user', 'platform'];
/** Longest Dockerfile path and target a StepCosts request may name (longer ones match no build). */
const MAX_PATH = 4096;
const MAX_TARGET = 256;

/** The capability Hello announces when the builder answers StepCosts. */
export const CAPABILITY_STEP_COSTS = 'history.step-costs';

/** Stats and WatchBuilds: the build history of the caller's project (an admin's: any or all). */
export function createHistoryHandlers(
  deps: ServerDeps,
): Pick<BuilderHandlers, 'Stats' | 'WatchBuilds' | 'StepCosts'> {
  const { history, feed, now, logCall } = deps;
  return {
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
        let wanted: string | undefined;
        try {
          // Builds record the platform normalized (build.ts), so the question is asked the same way.
          wanted = platform ? normalizePlatform(platform) : undefined;
        } catch (err) {
          throw new RpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message);
        }
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
