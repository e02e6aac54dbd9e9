export type { FleetOptions, FleetRecord, FleetRegistry, Platform } from '../protocol/fleet/index.js';
export {
  DEFAULT_FLEET_TTL_MS,
  FleetError,
  formatPlatform,
  liveRecords,
  normalizeOrKeep,
  normalizePlatform,
  openFleet,
  PlatformError,
  parsePlatform,
  platformMatches,
} from '../protocol/fleet/index.js';
export type {
  BuilderHealth,
  BuilderRow,
  ListBuildersOptions,
  ProbeOptions,
  ProbeResult,
} from './builders-ls.js';
export {
  createProbe,
  formatAge,
  formatBuildersJson,
  formatBuildersTable,
  listBuilders,
  probeBuilder,
  probeDirectBuilder,
} from './builders-ls.js';
export { asDepotError, RoutingError } from './errors.js';
export { defaultFleetSpec, resolveFleetSpec } from './fleet-config.js';
export { hostPlatform, resolveBuildPlatform, resolveTargetPlatforms } from './platform.js';
export type { PlatformRoute, RouteBuildOptions, RouteMode } from './routing.js';
export { rendezvousOrder, rendezvousWeight, routeBuild } from './routing.js';
