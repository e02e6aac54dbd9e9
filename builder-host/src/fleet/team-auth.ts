import { type FleetOptions, type FleetRegistry, loadTeamSecret } from '../../../src/protocol/fleet/index.js';
import {
  anyOfVerifiers,
  type BearerVerifier,
  createRevocationList,
  createTeamTokenVerifier,
} from '../auth/index.js';
import type { RegistrationLogger } from './registration.js';

export interface FleetAuthOptions {
  /** Where revoked team-token ids are listed. */
  registry: FleetRegistry;
  /** `file:PATH` or `ssm:/NAME` (a SecureString); see defaultTeamSecretSpec for the SSM convention. */
  teamSecret: string;
  /** Tried after team tokens: the builder's own token store, so per-builder tokens keep working. */
  fallback?: BearerVerifier;
  /** How long the revoked list is trusted before it is re-read (default 30 s). */
  revocationMaxAgeMs?: number;
  logger?: RegistrationLogger;
  /** Region/endpoint/credentials for an ssm: secret. */
  fleetOptions?: FleetOptions;
}

/**
 * The verifier of a fleet builder: team tokens (`dpt2.…`, signed with the team secret, checked against
 * the fleet's revoked list) first, then the fallback. Reads the secret once, now; throws FleetError
 * 'team_secret_invalid' when it cannot.
 */
export async function createFleetAuth(opts: FleetAuthOptions): Promise<BearerVerifier> {
  const secret = await loadTeamSecret(opts.teamSecret, opts.fleetOptions);
  const revoked = createRevocationList({
    fetch: () => opts.registry.revokedTokens(),
    maxAgeMs: opts.revocationMaxAgeMs,
    onError: (err) =>
      opts.logger?.warn(
        { fleet: opts.registry.spec, err: (err as Error).message },
        'cannot refresh revoked team tokens; keeping the last list',
      ),
  });
  const team = createTeamTokenVerifier({ secret, isRevoked: (jti) => revoked.isRevoked(jti) });
  return opts.fallback ? anyOfVerifiers(team, opts.fallback) : team;
}
