export { FleetError, PlatformError } from './errors.js';
export { createFileFleetRegistry } from './file-registry.js';
export type { FleetSpec } from './open.js';
export {
  defaultTeamSecretSpec,
  loadTeamSecret,
  MIN_TEAM_SECRET_LENGTH,
  openFleet,
  parseFleetSpec,
} from './open.js';
export type { Platform } from './platform.js';
export {
  formatPlatform,
  normalizeOrKeep,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  platformOfProcess,
} from './platform.js';
export type { FleetRecord } from './record.js';
export {
  DEFAULT_FLEET_TTL_MS,
  DEFAULT_HEARTBEAT_MS,
  FLEET_ID_RE,
  fleetRecordSchema,
  heartbeatAgeMs,
  liveRecords,
  parseFleetRecord,
} from './record.js';
export type { FleetOptions, FleetRegistry } from './registry.js';
export type { SsmAccess, SsmParameter } from './ssm-registry.js';
export { createSsmAccess, createSsmFleetRegistry, parseSsmPrefix } from './ssm-registry.js';
