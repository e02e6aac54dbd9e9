import {
  type BuildEvent,
  createJsonRenderer,
  createPlainRenderer,
  type ProgressMode,
  resolveProgressMode,
} from '../progress/index.js';
import { DepotError } from '../session/index.js';
import { progressIntervals } from './progress-events.js';

/** Where build events go: one of the renderers picked by --progress. */
export interface ProgressSink {
  handle(e: BuildEvent): void;
  close(): Promise<void>;
}

const MODES = ['auto', 'tty', 'plain', 'json', 'quiet'];

/** The --progress mode checked and resolved (auto: tty on a terminal outside CI, else plain). */
function resolvedMode(mode: string): Exclude<ProgressMode, 'auto'> {
  if (!MODES.includes(mode))
    throw new DepotError(
      'invalid_flag',
      `invalid --progress ${JSON.stringify(mode)}`,
      `use one of ${MODES.join(', ')}`,
    );
  return resolveProgressMode(mode as ProgressMode, {
    isTTY: Boolean(process.stderr.isTTY),
    ci: Boolean(process.env.CI),
  }) as Exclude<ProgressMode, 'auto'>;
}

type Renderer = { handle(e: BuildEvent): void; close(): void | Promise<void> };

/**
 * Creates the renderer for a --progress mode (auto: tty on a terminal outside CI, else plain).
 * The renderer starts with the first event, so a build that fails before it starts prints
 * only its error line. Ink is loaded only for the tty renderer (it costs ~0.5 s of start-up).
 */
export async function createProgressSink(mode: string): Promise<ProgressSink> {
  const resolved = resolvedMode(mode);
  const tui = resolved === 'tty' ? await import('../tui/index.js') : undefined;
  const make = (): Renderer => {
    switch (resolved) {
      case 'quiet':
        return { handle() {}, close() {} };
      case 'json':
        return createJsonRenderer((s) => process.stdout.write(s));
      case 'plain':
        return createPlainRenderer((s) => process.stderr.write(s), {
          progressIntervalMs: progressIntervals().plainMs,
        });
      default:
        return tui!.renderBuildTty({ stdout: process.stderr });
    }
  };
  let renderer: Renderer | undefined;
  return {
    handle(e) {
      renderer ??= make();
      renderer.handle(e);
    },
    async close() {
      await renderer?.close();
    },
  };
}

/** The progress of several builds on one terminal: a sink per label. */
export interface ProgressSinks {
  sinkFor(label: string): ProgressSink;
  /** Said once before the builds (e.g. why the view is what it is); '' when nothing. */
  note: string;
  close(): Promise<void>;
}

/**
 * Progress for the builds of one command (the platforms of a build, the targets of a bake): one
 * build is the single-build view; several share one live view in a terminal (each build's header
 * and the steps that matter now), else plain lines prefixed `[label] ` or json lines with the
 * label as `key`. `labels` known up front keep their order and align.
 */
export async function progressSinks(
  mode: string,
  key: 'platform' | 'target',
  labels: readonly string[],
): Promise<ProgressSinks> {
  const resolved = resolvedMode(mode);
  // One build is the single-build view (a bake of one target keeps its `[target]` in plain lines).
  if (labels.length === 1 && (resolved === 'tty' || resolved === 'quiet' || key === 'platform')) {
    const sink = await createProgressSink(resolved);
    return { sinkFor: () => sink, note: '', close: () => sink.close() };
  }
  if (resolved !== 'tty') return labelledSinks(resolved, key, labels);
  const { renderBuildsTty } = await import('../tui/index.js');
  let tty: ReturnType<typeof renderBuildsTty> | undefined;
  return {
    sinkFor: (label) => ({
      handle(e) {
        // Mounted with the first event, as the single view: an error before any build is one line.
        tty ??= renderBuildsTty({ stdout: process.stderr, labels });
        tty.handle(label, e);
      },
      close: async () => {},
    }),
    note: '',
    close: async () => {
      await tty?.close();
    },
  };
}

/**
 * Plain lines prefixed `[label] ` or json lines with the label as `key`, a sink per label made on
 * first use. `aligned`: labels known up front (platform prefixes are padded to one width).
 */
function labelledSinks(
  mode: 'plain' | 'json' | 'quiet',
  key: 'platform' | 'target',
  aligned: readonly string[],
): ProgressSinks {
  // Platforms are few and alike (`linux/amd64`, `linux/arm64`): their prefixes align. Target names
  // differ: each keeps `[name] ` exactly, for grep.
  const width = key === 'platform' ? Math.max(0, ...aligned.map((p) => p.length)) : 0;
  const made = new Map<string, ProgressSink>();
  const make = (label: string): ProgressSink => {
    if (mode === 'quiet') return { handle() {}, async close() {} };
    if (mode === 'json') {
      const r = createJsonRenderer((s) => {
        for (const line of s.split('\n'))
          if (line) process.stdout.write(`${JSON.stringify({ [key]: label, ...JSON.parse(line) })}\n`);
      });
      return { handle: (e) => r.handle(e), close: async () => r.close() };
    }
    const prefix = `[${label}]${' '.repeat(Math.max(0, width - label.length))} `;
    let rest = '';
    const r = createPlainRenderer(
      (s) => {
        rest += s;
        let i = rest.indexOf('\n');
        while (i >= 0) {
          const line = rest.slice(0, i + 1);
          process.stderr.write(line === '\n' ? `${prefix.trimEnd()}\n` : `${prefix}${line}`);
          rest = rest.slice(i + 1);
          i = rest.indexOf('\n');
        }
      },
      { progressIntervalMs: progressIntervals().plainMs },
    );
    let closed = false;
    return {
      handle: (e) => r.handle(e),
      async close() {
        if (closed) return;
        closed = true;
        r.close();
        if (rest) process.stderr.write(`${prefix}${rest}\n`);
        rest = '';
      },
    };
  };
  return {
    sinkFor(label) {
      const known = made.get(label);
      if (known) return known;
      const s = make(label);
      made.set(label, s);
      return s;
    },
    note: '',
    async close() {
      for (const s of made.values()) await s.close();
    },
  };
}
