import {
  DEFAULT_FLEET_TTL_MS,
  type FleetRecord,
  type FleetRegistry,
  parseFleetRecord,
} from '../../../src/protocol/fleet/index.js';

/** The bits of a pino logger registration uses. */
export interface RegistrationLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What a builder announces; startedAt and heartbeat are filled in when absent. */
export type RegistrationRecord = Omit<FleetRecord, 'startedAt' | 'heartbeat'> &
  Partial<Pick<FleetRecord, 'startedAt' | 'heartbeat'>>;

export interface FleetRegistrationOptions {
  registry: FleetRegistry;
  record: RegistrationRecord;
  /** Clients ignore records older than this (default 60 s); heartbeats must come well within it. */
  ttlMs?: number;
  /** Time between heartbeats (default ttlMs / 4, so three may be lost before clients drop the builder). */
  intervalMs?: number;
  now?: () => Date;
  logger?: RegistrationLogger;
}

/** A running registration: heartbeats on a timer until stopped. */
export interface FleetRegistration {
  /** The record as first registered. */
  readonly record: FleetRecord;
  /** One heartbeat now (re-registers when the record vanished); never throws, logs failures. */
  beat(): Promise<void>;
  /** Stops heartbeating and removes the record (clean shutdown); safe to call twice. */
  stop(): Promise<void>;
}

const silent: RegistrationLogger = { info() {}, warn() {} };

/**
 * Registers a builder in the fleet and keeps its heartbeat fresh. The first registration must
 * succeed (a builder that cannot reach its registry is misconfigured); later failures are logged
 * and retried at the next beat, and a record someone removed is written again.
 */
export async function startFleetRegistration(options: FleetRegistrationOptions): Promise<FleetRegistration> {
  const { registry } = options;
  const logger = options.logger ?? silent;
  const now = options.now ?? (() => new Date());
  const ttlMs = options.ttlMs ?? DEFAULT_FLEET_TTL_MS;
  const intervalMs = options.intervalMs ?? Math.floor(ttlMs / 4);
  if (!(intervalMs > 0 && intervalMs < ttlMs))
    throw new RangeError(
      `heartbeat interval ${intervalMs} ms must be positive and below the TTL of ${ttlMs} ms`,
    );
  const started = now().toISOString();
  const record = parseFleetRecord(
    { startedAt: started, heartbeat: started, ...options.record },
    `record of builder ${JSON.stringify(options.record.id)}`,
  );
  await registry.register(record);
  logger.info({ fleet: registry.spec, id: record.id, platforms: record.platforms }, 'registered in fleet');

  let stopped = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  async function beatOnce(): Promise<void> {
    try {
      try {
        await registry.heartbeat(record.id);
      } catch (err) {
        if ((err as { code?: string }).code !== 'not_registered') throw err;
        logger.warn({ fleet: registry.spec, id: record.id }, 'fleet record vanished; registering again');
        await registry.register({ ...record, heartbeat: now().toISOString() });
      }
      if (failing) logger.info({ fleet: registry.spec, id: record.id }, 'fleet heartbeat recovered');
      failing = false;
    } catch (err) {
      failing = true;
      logger.warn(
        { fleet: registry.spec, id: record.id, err: (err as Error).message },
        'fleet heartbeat failed',
      );
    }
  }

  function beat(): Promise<void> {
    inflight = inflight.then(() => (stopped ? undefined : beatOnce()));
    return inflight;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void beat().then(schedule);
    }, intervalMs);
    timer.unref();
  }
  schedule();

  let stopping: Promise<void> | undefined;
  return {
    record,
    beat,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        await inflight;
        try {
          await registry.deregister(record.id);
          logger.info({ fleet: registry.spec, id: record.id }, 'deregistered from fleet');
        } catch (err) {
          logger.warn(
            { fleet: registry.spec, id: record.id, err: (err as Error).message },
            'fleet deregistration failed',
          );
        }
      })();
      return stopping;
    },
  };
}
