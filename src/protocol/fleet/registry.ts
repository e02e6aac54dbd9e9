import type { FleetRecord } from './record.js';

/**
 * Where builders announce themselves and clients find them. Builders write (register, heartbeat,
 * deregister); clients read (list) and filter stale records with liveRecords. The same store holds
 * the ids of revoked team tokens, which every builder of the fleet honours.
 */
export interface FleetRegistry {
  /** The spec it was opened with, e.g. "file:/srv/depot/fleet.json" or "ssm:/depot/prod". */
  readonly spec: string;
  /** Writes (or overwrites) the builder's record; validates it first. */
  register(record: FleetRecord): Promise<void>;
  /** Sets the record's heartbeat to now; FleetError 'not_registered' when the record is gone. */
  heartbeat(id: string): Promise<void>;
  /** Removes the record; removing an absent one is not an error. */
  deregister(id: string): Promise<void>;
  /** Every valid record, stale ones included, sorted by id. */
  list(): Promise<FleetRecord[]>;
  /** Adds a team-token id (jti) to the fleet's revocation list. */
  revokeToken(jti: string): Promise<void>;
  /** Every revoked team-token id. */
  revokedTokens(): Promise<string[]>;
}

/** Knobs shared by the providers; all optional. */
export interface FleetOptions {
  /** Clock for heartbeats (tests). */
  now?: () => Date;
  /** Told about each record that fails validation; such records are left out of list(). */
  onInvalidRecord?: (where: string, err: Error) => void;
  /** file: how long to wait for another writer's lock (default 5 s). */
  lockTimeoutMs?: number;
  /** ssm: AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the SDK's profile chain). */
  region?: string;
  /** ssm: endpoint URL (default: DEPOT_SSM_ENDPOINT, else the SDK's regional endpoint). */
  endpoint?: string;
  /** ssm: static credentials (default: the SDK's standard credential chain). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** ssm: page size of GetParametersByPath, 1-10 (default 10). */
  pageSize?: number;
  /** Environment to read DEPOT_SSM_ENDPOINT / AWS_REGION from (default process.env). */
  env?: NodeJS.ProcessEnv;
}
