import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { destination, type Logger, pino } from 'pino';
import { normalizePlatform, openFleet } from '../../src/protocol/fleet/index.js';
import { isLocalAddress } from '../../src/protocol/index.js';
import { createTokenStore } from './auth/index.js';
import { createDockerEngine } from './engine/index.js';
import { createFleetAuth, startFleetRegistration } from './fleet/index.js';
import { formatGcReport, type GcPolicy, runGc } from './gc/index.js';
import { createStepExplainer } from './history/explain.js';
import { type History, openHistory, type RetentionOptions, type StepExplainer } from './history/index.js';
import {
  createBuilderServer,
  createImageNamespaces,
  createResultHolds,
  type Limits,
  loadNamespaceKey,
  OWN_ENGINE_NAMES,
  type TokenVerifier,
} from './server/index.js';
import { acquireMaintenance, createStore, registerBuilder, type Store } from './store/index.js';

import { BUILDER_VERSION } from './version.js';

export { BUILDER_VERSION };

export interface BuilderHostOptions {
  /** Docker engine: unix:///PATH or tcp://HOST:PORT */
  engine: string;
  dataDir: string;
  /** grpc-js address: "127.0.0.1:PORT" or "unix:/PATH" */
  listen: string;
  /** Certificate and key to serve TLS; `clientCa`: require client certificates signed by it. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** Overrides the token file (the embedded builder uses a one-process token). */
  tokens?: TokenVerifier;
  logger?: Logger;
  id?: string;
  /** Platforms served natively (declared); default: the engine's own. */
  platforms?: string[];
  /** Platforms served through emulation (used only with --allow-emulation); "*": any the engine emulates. */
  emulated?: string[];
  /** Register in a fleet: `file:PATH` or `ssm:/PREFIX`, with the address clients use. */
  fleet?: { spec: string; endpoint: string; ttlMs?: number };
  /** Team secret (`file:PATH` or `ssm:/NAME`): tokens signed with it work on every builder of the fleet. */
  teamSecret?: string;
  /**
   * Build history retention (age in days, number of builds), and where the builds are kept:
   * `database` a PostgreSQL URL shared by a fleet; absent, SQLite in the data directory.
   */
  history?: RetentionOptions & { database?: string };
  /** Why-missed analysis of uncached steps; default: the trivial explainer. */
  explainer?: StepExplainer;
  /** How builds reach the engine: a BuildKit session (default) or a context tar. */
  driver?: 'session' | 'tar';
  /** Builds may use `--network host` (RUN steps on this machine's network); default false. */
  allowNetworkHost?: boolean;
  /**
   * The engine is its one user's own (the embedded builder): images keep the client's names instead
   * of being named per project in a namespace of the builder.
   */
  ownEngine?: boolean;
  /** Reuse the result of an identical earlier build without asking the engine (default true). */
  resultReuse?: boolean;
  /** Sizes, counts, quotas and timeouts; default: DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
  /** The projects this builder serves (announced in Hello and the fleet); default: every project. */
  projects?: string[];
  /** Garbage collection in the background every `intervalMs`; none when absent. */
  gc?: GcPolicy & { intervalMs: number };
}

/** How often old builds are pruned from the history while the builder runs. */
const PRUNE_INTERVAL_MS = 3_600_000;

export interface BuilderHost {
  id: string;
  address: string;
  close(): Promise<void>;
}

/** A JSON logger on stderr. */
export function createLogger(level = process.env.DEPOT_LOG_LEVEL || 'info'): Logger {
  return pino({ name: 'depot-builder', level }, destination(2));
}

async function builderId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'builder-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = `bld-${randomBytes(6).toString('hex')}`;
    await writeFile(file, `${id}\n`);
    return id;
  }
}

/** Starts a builder-host: store, engine driver, gRPC server. */
export async function startBuilderHost(opts: BuilderHostOptions): Promise<BuilderHost> {
  await mkdir(opts.dataDir, { recursive: true });
  const logger = opts.logger ?? createLogger();
  const id = opts.id ?? (await builderId(opts.dataDir));
  const store = await createStore(opts.dataDir);
  // Registered before serving: a gc or fsck run from the command line refuses while we are here.
  const unregister = await registerBuilder(opts.dataDir);
  const engine = createDockerEngine({ host: opts.engine, cacheDir: join(opts.dataDir, 'export-cache') });
  const registry = opts.fleet ? openFleet(opts.fleet.spec) : undefined;
  const platforms = (opts.platforms?.length ? opts.platforms : [(await engine.info()).platform]).map((p) =>
    normalizePlatform(p),
  );
  const emulated = (opts.emulated ?? []).map((p) => (p === '*' ? p : normalizePlatform(p)));
  let tokens = opts.tokens ?? createTokenStore(opts.dataDir);
  if (!opts.tokens && opts.teamSecret) {
    if (!registry) throw new Error('a team secret needs a fleet (--fleet) for its revocation list');
    tokens = await createFleetAuth({
      registry,
      teamSecret: opts.teamSecret,
      fallback: tokens,
      logger,
    });
  }
  const history = await openBuildHistory(opts, id, logger);
  // A build whose builder was killed would otherwise stay 'running' forever.
  const abandoned = await history.failAbandoned(Date.now());
  if (abandoned)
    logger.warn({ builds: abandoned }, "marked builds of a stopped builder as failed ('builder stopped')");
  const pruned = await history.prune(Date.now());
  if (pruned) logger.info({ builds: pruned }, 'pruned build history');
  const pruner = setInterval(() => {
    history.prune(Date.now()).catch((err: Error) => {
      logger.warn({ err: err.message }, 'pruning build history failed');
    });
  }, PRUNE_INTERVAL_MS);
  pruner.unref();
  const namespaces = opts.ownEngine
    ? OWN_ENGINE_NAMES
    : createImageNamespaces(await loadNamespaceKey(opts.dataDir));
  // Shared by the server (builds and Exports hold results) and the collector (which spares them).
  const holds = createResultHolds();
  const collector = opts.gc
    ? startCollector(store, opts.gc, { host: opts.engine, namespaces, held: holds.held }, logger)
    : undefined;
  const server = createBuilderServer({
    platforms,
    emulated,
    builderId: id,
    version: BUILDER_VERSION,
    engine,
    store,
    namespaces,
    tokens,
    logger,
    memoDir: opts.resultReuse === false ? undefined : join(opts.dataDir, 'results'),
    history,
    explainer: opts.explainer ?? realExplainer(),
    driver: opts.driver,
    allowNetworkHost: opts.allowNetworkHost,
    limits: opts.limits,
    projects: opts.projects,
    holds,
  });
  const address = await server.listen(opts.listen, opts.tls);
  logger.info(
    {
      address,
      id,
      engine: opts.engine,
      platforms,
      driver: opts.driver ?? 'session',
      tls: opts.tls ? (opts.tls.clientCa ? 'mutual' : 'server') : 'off',
    },
    'builder-host listening',
  );
  // depot-builder serve gets here only with --insecure; say what it costs where operators look.
  if (!opts.tls && !isLocalAddress(address))
    logger.warn(
      { address },
      'serving plaintext on a non-loopback address: tokens, contexts and images cross the network unencrypted',
    );
  const registration =
    registry && opts.fleet
      ? await startFleetRegistration({
          registry,
          record: {
            id,
            endpoint:
              opts.fleet.endpoint ||
              (address.startsWith('unix:')
                ? `unix://${address.slice(5)}`
                : `${opts.tls ? 'tls' : 'tcp'}://${address}`),
            platforms,
            emulated: emulated.filter((p) => p !== '*'),
            ...(opts.projects?.length ? { projects: opts.projects } : {}),
            version: BUILDER_VERSION,
          },
          ttlMs: opts.fleet.ttlMs,
          logger,
        })
      : undefined;
  return {
    id,
    address,
    async close() {
      // Leave the fleet first, so clients stop routing here while builds drain.
      await registration?.stop();
      await server.close();
      await collector?.stop();
      clearInterval(pruner);
      await unregister();
      await history.close();
      store.ownership.close();
    },
  };
}

/**
 * The builder's history: SQLite in its data directory, or the fleet's PostgreSQL database (whose
 * client is loaded only then).
 */
async function openBuildHistory(opts: BuilderHostOptions, id: string, logger: Logger): Promise<History> {
  const { database, ...retention } = opts.history ?? {};
  if (!database) return openHistory(join(opts.dataDir, 'history.db'), { ...retention, builder: id });
  const { openPostgresHistory, redactUrl } = await import('./history/postgres.js');
  const history = await openPostgresHistory(database, {
    ...retention,
    builder: id,
    onError: (err) => logger.warn({ err: err.message }, 'shared build history: connection lost'),
  });
  logger.info({ history: redactUrl(database) }, 'recording builds into the shared history');
  return history;
}

/** The why-missed analysis (history/explain.ts) behind the recorder's explainer interface. */
function realExplainer(): StepExplainer {
  const inner = createStepExplainer();
  return {
    explain: (input) =>
      inner.explain({
        project: input.project,
        dockerfilePath: input.dockerfilePath,
        target: input.target,
        noCache: input.noCache,
        previous: input.previous && {
          dockerfile: input.previous.dockerfile,
          buildArgs: input.previous.buildArgs,
          buildArgsHashed: input.previous.buildArgsHashed,
          baseImages: input.previous.baseImages,
          steps: input.previous.steps,
        },
        snapshotDiff: input.snapshotDiff,
        dockerfile: input.dockerfile,
        buildArgs: input.buildArgs,
        baseImages: input.baseImages,
        step: { digest: input.step.digest, name: input.step.name, everCached: input.step.cachedBefore },
        earlierCause: input.earlierCause as Parameters<typeof inner.explain>[0]['earlierCause'],
      }),
  };
}

/**
 * Collects garbage every `intervalMs` (first run after one interval). A run is skipped, with a
 * log line, while another builder process serves the same data directory: its running syncs are
 * not pinned in this process.
 */
function startCollector(
  store: Store,
  gc: GcPolicy & { intervalMs: number },
  engine: Parameters<typeof runGc>[2] & {},
  logger: Logger,
): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const once = async () => {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await acquireMaintenance(store.dataDir);
    } catch (err) {
      logger.info({ err: (err as Error).message }, 'garbage collection skipped');
      return;
    }
    try {
      const started = Date.now();
      const report = await runGc(store, gc, engine);
      const s = report.store;
      const changed = s.deletedBlobs + s.deletedSnapshots + s.droppedSnapshotClaims + s.droppedBlobClaims;
      // Quiet when there was nothing to do: a short interval would flood the log.
      logger[changed || report.engine?.untagged.length || report.engine?.keptHeld ? 'info' : 'debug'](
        {
          ms: Date.now() - started,
          store: report.store,
          engine: report.engine && { ...report.engine, untagged: report.engine.untagged.length },
        },
        formatGcReport(report).slice(0, 2).join('; '),
      );
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'garbage collection failed');
    } finally {
      await release();
    }
  };
  const timer = setInterval(() => {
    running ??= once().finally(() => {
      running = undefined;
    });
  }, gc.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
