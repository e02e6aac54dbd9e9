import type { StatsWindow } from '../session/index.js';
import { openHistorySource, type RemoteBuilderOptions, runStats } from './stats.js';

/** Flags of `depot dashboard`. */
export interface DashboardOptions extends RemoteBuilderOptions {
  window: StatsWindow;
}

/**
 * `depot dashboard`: the team's cache numbers from the configured builder, live, on the
 * terminal's alternate screen until `q` (or Ctrl-C, or SIGTERM); the terminal is restored on the
 * way out whatever ends it. When stdout is not a terminal (a pipe, a file, CI) there is no screen
 * to draw on: it prints the `depot stats` table instead.
 */
export async function runDashboard(opts: DashboardOptions): Promise<void> {
  if (!process.stdout.isTTY) {
    await runStats({ ...opts, groupBy: 'project', json: false });
    return;
  }
  const source = await openHistorySource(opts, 'dashboard');
  // Ink is loaded only by the commands that draw with it.
  const { createDashboardController, renderDashboardTty } = await import('../tui/index.js');
  const controller = createDashboardController({
    source,
    builderUrl: source.label,
    window: opts.window,
    fleet: source.fleet,
  });
  const onSignal = () => controller.dispatch({ type: 'quit/requested' });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const screen = renderDashboardTty({ store: controller });
  controller.start();
  try {
    await controller.quit;
  } finally {
    controller.close();
    await screen.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    source.close();
  }
}
