import * as grpc from '@grpc/grpc-js';
import type { BuilderHandlers } from '../../../src/protocol/index.js';
import type { StatsGroupBy, StatsWindow } from '../history/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { RpcError, toStatus } from './rpc-error.js';

const STATS_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
const STATS_GROUPS: readonly StatsGroupBy[] = ['project', 'user', 'platform'];

/** Stats and WatchBuilds: the build history of the caller's project (an admin's: any or all). */
export function createHistoryHandlers(deps: ServerDeps): Pick<BuilderHandlers, 'Stats' | 'WatchBuilds'> {
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
        const stats = history.stats({ window, groupBy, project: scope, now: now() });
        stats.running = feed.running().filter((b) => scope === undefined || b.project === scope);
        callback(null, stats);
        logCall('Stats', caller, started);
      })().catch((err) => {
        logCall('Stats', caller, started, err);
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
