import type { Logger } from 'pino';
import { normalizePlatform } from '../../../src/protocol/fleet/index.js';
import type { Engine } from '../engine/index.js';
import type { BuildFeed, History, StepExplainer } from '../history/index.js';
import type { SharedStore } from '../store/index.js';
import type { Authorizer, CallContext, TokenVerifier } from './authorize.js';
import type { ImageNamespaces } from './image-namespace.js';
import type { Limits } from './limits.js';
import type { ResultHolds } from './result-holds.js';
import { toStatus } from './rpc-error.js';
import type { SshRelays } from './ssh-relay.js';

export interface BuilderServerOptions {
  builderId: string;
  version: string;
  engine: Engine;
  /** Blobs, snapshots and which project holds which: handlers see only the caller's project's. */
  store: SharedStore;
  tokens: TokenVerifier;
  /** The names of each project's images on the shared engine. */
  namespaces: ImageNamespaces;
  logger: Logger;
  /** Platforms this builder serves (declared, e.g. an engine that emulates arm64); default: the engine's. */
  platforms?: string[];
  /** Platforms served through emulation, announced in Hello ("*": whatever the engine's binfmt runs). */
  emulated?: string[];
  /** Where results of earlier builds are remembered; no reuse when absent. */
  memoDir?: string;
  /** Build history behind Stats and WatchBuilds; both answer UNIMPLEMENTED when absent. */
  history?: History;
  /** Why-missed analysis of uncached steps; default: the trivial one (no_cache / first_build / unknown). */
  explainer?: StepExplainer;
  /** Clock for recorded builds and Stats windows (tests). */
  now?: () => number;
  /**
   * How builds reach the engine: 'session' (default) — BuildKit pulls the context, Dockerfile,
   * secrets, registry credentials and SSH agents through a session served from the store;
   * 'tar' — the whole context as the body of POST /build (no secrets, no SSH).
   */
  driver?: 'session' | 'tar';
  /** Builds may use `--network host` (RUN steps on this machine's network); default false. */
  allowNetworkHost?: boolean;
  /** Sizes, counts, quotas and timeouts (see limits.ts); default: DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
  /** The projects this builder serves; any other project's calls are refused. Default: every project. */
  projects?: string[];
  /** Results awaiting their Export; the engine collection must see the same. Default: a fresh registry. */
  holds?: ResultHolds;
}

/** What every RPC family's handlers share: made once per server by createBuilderServer. */
export interface ServerDeps {
  opts: BuilderServerOptions;
  engine: Engine;
  logger: Logger;
  namespaces: ImageNamespaces;
  driver: 'session' | 'tar';
  history: History | undefined;
  explainer: StepExplainer;
  feed: BuildFeed;
  now: () => number;
  auth: Authorizer;
  limits: Limits;
  sshRelays: SshRelays;
  /** Results the engine collection must leave named until their client has loaded them. */
  holds: ResultHolds;
  /** Bytes of the last Sync of each snapshot (per project), taken by the build that follows it. */
  syncs: SyncLedger;
  /** Each running Build: its controller and the promise of its handler (settled once it has answered). */
  activeBuilds: Map<AbortController, Promise<void>>;
  /** The engine's own platform (cached once known). */
  defaultPlatform(): Promise<string>;
  logCall(method: string, caller: CallContext | undefined, started: number, err?: unknown): void;
}

export interface SyncLedger {
  note(project: string, snapshotId: string, received: number, total: number): void;
  take(project: string, snapshotId: string): { received: number; total: number } | undefined;
}

/** How many Sync results are kept for the builds that follow them. */
const SYNC_BYTES_KEPT = 1024;

export function createSyncLedger(): SyncLedger {
  const syncBytes = new Map<string, { received: number; total: number }>();
  const key = (project: string, id: string) => `${project}\0${id}`;
  return {
    note(project, id, received, total) {
      const k = key(project, id);
      syncBytes.delete(k);
      syncBytes.set(k, { received, total });
      if (syncBytes.size > SYNC_BYTES_KEPT) syncBytes.delete(syncBytes.keys().next().value!);
    },
    take(project, id) {
      const k = key(project, id);
      const got = syncBytes.get(k);
      syncBytes.delete(k);
      return got;
    },
  };
}

export function createPlatformProbe(engine: Engine): () => Promise<string> {
  let enginePlatform: Promise<string> | undefined;
  return () => {
    enginePlatform ??= engine.info().then(
      (i) => normalizePlatform(i.platform),
      (err) => {
        enginePlatform = undefined;
        throw err;
      },
    );
    return enginePlatform;
  };
}

export function createCallLogger(logger: Logger): ServerDeps['logCall'] {
  return (method, caller, started, err) => {
    const fields = {
      rpc: method,
      project: caller?.project,
      user: caller?.user,
      ms: Date.now() - started,
    };
    if (err) logger.warn({ ...fields, err: toStatus(err).details }, 'rpc failed');
    else logger.info(fields, 'rpc done');
  };
}

/** The abort reason of builds stopped because the builder is shutting down. */
export const SHUTTING_DOWN = new Error('builder shutting down');
