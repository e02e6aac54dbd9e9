import { z } from 'zod';
import { FleetError } from './errors.js';
import { normalizePlatform } from './platform.js';

/** How long a record stays live after its last heartbeat, unless a caller says otherwise. */
export const DEFAULT_FLEET_TTL_MS = 60_000;
/** How often a builder refreshes its record: a quarter of the TTL, so three beats may be lost. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/** Builder ids and token ids become SSM parameter names and JSON keys: keep them to a safe alphabet. */
export const FLEET_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const platformList = z.array(z.string()).transform((list, ctx) => {
  const out: string[] = [];
  for (const p of list) {
    try {
      const n = normalizePlatform(p);
      if (!out.includes(n)) out.push(n);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }
  return out;
});

/** The zod schema of a fleet record; platforms come out normalised (see normalizePlatform). */
export const fleetRecordSchema = z.object({
  id: z.string().regex(FLEET_ID_RE, 'id must be 1-128 of [A-Za-z0-9._-], starting alphanumeric'),
  /** How clients reach the builder: tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH. */
  endpoint: z.string().min(1).max(1024),
  /** Platforms the builder runs natively; at least one. */
  platforms: platformList.refine((l) => l.length > 0, 'at least one platform'),
  /** Platforms the builder runs through emulation (qemu binfmt); routed to only with --allow-emulation. */
  emulated: platformList.optional(),
  /** The projects the builder serves (serve --projects); absent: every project. */
  projects: z.array(z.string().min(1).max(128)).max(10_000).optional(),
  version: z.string().max(128),
  /** ISO 8601. */
  startedAt: z.iso.datetime({ offset: true }),
  /** ISO 8601 of the last refresh. */
  heartbeat: z.iso.datetime({ offset: true }),
});

/** One builder as registered in the fleet: `{id, endpoint, platforms, emulated?, projects?, version, startedAt, heartbeat}`. */
export type FleetRecord = z.infer<typeof fleetRecordSchema>;

/** Validates and normalises a record (throws FleetError 'invalid_record' naming the bad field). */
export function parseFleetRecord(value: unknown, where = 'fleet record'): FleetRecord {
  const r = fleetRecordSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path.join('.') || 'record';
  throw new FleetError('invalid_record', `${where} is not valid: ${path}: ${issue?.message ?? 'invalid'}`, {
    cause: r.error,
  });
}

/** Milliseconds since the record's last heartbeat (Infinity when unparseable). */
export function heartbeatAgeMs(record: FleetRecord, now: number): number {
  const t = Date.parse(record.heartbeat);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : Math.max(0, now - t);
}

/** The records whose heartbeat is at most `ttlMs` old at `now` (ms since epoch); order kept. */
export function liveRecords(records: readonly FleetRecord[], now: number, ttlMs: number): FleetRecord[] {
  return records.filter((r) => heartbeatAgeMs(r, now) <= ttlMs);
}
