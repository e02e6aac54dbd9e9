import { DepotError } from './errors.js';

/** The builder drives BuildKit through a session (secrets, ssh, registry auth for pulls). */
export const CAPABILITY_SESSION_DRIVER = 'driver.session';
/** BuildRequest.secrets is served to the build. */
export const CAPABILITY_SECRETS = 'build.secrets';
/** BuildRequest.ssh_ids and the ForwardSsh relay are served to the build. */
export const CAPABILITY_SSH = 'build.ssh';
/** BuildRequest.registry_auth is used for pulls too (private base images), not only pushes. */
export const CAPABILITY_REGISTRY_AUTH = 'build.registry-auth';

/** What a build asks of its builder beyond the basics. */
export interface BuildNeeds {
  secrets: boolean;
  ssh: boolean;
}

/**
 * Fails, in one line, when the builder that answered Hello cannot serve the build's `--secret`
 * or `--ssh` (call it after Hello, before syncing).
 */
export function requireBuildCapabilities(
  hello: { builderId: string; capabilities: readonly string[] },
  needs: BuildNeeds,
): void {
  const caps = new Set(hello.capabilities);
  const missing: string[] = [];
  if (needs.secrets && !caps.has(CAPABILITY_SECRETS)) missing.push('--secret');
  if (needs.ssh && !caps.has(CAPABILITY_SSH)) missing.push('--ssh');
  if (!missing.length) return;
  const what = missing.join(' or ');
  const who = hello.builderId ? `builder ${hello.builderId}` : 'the builder';
  if (!caps.has(CAPABILITY_SESSION_DRIVER))
    throw new DepotError(
      'unsupported',
      `${who} cannot serve ${what} (it drives its engine without a BuildKit session); use a builder with the session driver`,
    );
  throw new DepotError(
    'unsupported',
    `${who} cannot serve ${what}; upgrade depot-builder or use another builder`,
  );
}
