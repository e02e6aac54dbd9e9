export type {
  FleetRegistration,
  FleetRegistrationOptions,
  RegistrationLogger,
  RegistrationRecord,
} from './registration.js';
export { startFleetRegistration } from './registration.js';
export type { FleetAuthOptions } from './team-auth.js';
export { createFleetAuth } from './team-auth.js';
