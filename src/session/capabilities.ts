import { normalizeOrKeep, normalizePlatform, platformMatches } from '../protocol/fleet/index.js';
import { DepotError } from './errors.js';

/** The builder drives BuildKit through a session (secrets, ssh, registry auth for pulls). */
export const CAPABILITY_SESSION_DRIVER = 'driver.session';
/** BuildRequest.secrets is served to the build. */
export const CAPABILITY_SECRETS = 'build.secrets';
/** BuildRequest.ssh_ids and the ForwardSsh relay are served to the build. */
export const CAPABILITY_SSH = 'build.ssh';
/** BuildRequest.registry_auth is used for pulls too (private base images), not only pushes. */
export const CAPABILITY_REGISTRY_AUTH = 'build.registry-auth';

/** BuildRequest.engine_options (`--network`, `--add-host`, `--cache-from`, …) reach the engine. */
export const CAPABILITY_ENGINE_OPTIONS = 'build.engine-options';
/** The builder's engine applies `--shm-size` and `--ulimit` to RUN steps (Docker 23 and later). */
export const CAPABILITY_SHM_ULIMIT = 'build.shm-size-ulimit';
/** The builder's operator allows `--network host` (RUN steps on the builder host's network). */
export const CAPABILITY_NETWORK_HOST = 'build.network.host';

/** The builder answers StepCosts (it keeps a build history and knows the RPC). */
export const CAPABILITY_STEP_COSTS = 'history.step-costs';

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

/** How a builder that answered Hello runs the wanted platform. */
export type PlatformSupport = 'native' | 'emulated';

/**
 * Fails, in one line, when the builder that answered Hello cannot build `platform` (call it after
 * Hello, before syncing): native when one of `platforms` runs it, emulated when `emulatedPlatforms`
 * lists it and the caller allows emulation, or always when it lists "*" (the embedded builder). `platform` '' (the builder's default) always passes.
 */
export function requirePlatform(
  hello: { builderId: string; platforms: readonly string[]; emulatedPlatforms?: readonly string[] },
  platform: string,
  opts: { allowEmulation?: boolean } = {},
): PlatformSupport {
  if (!platform) return 'native';
  const wanted = normalizePlatform(platform);
  const matches = (list: readonly string[]) =>
    list.some((p) => {
      try {
        return platformMatches(p, wanted);
      } catch {
        // A platform this client does not know cannot be the wanted (known) one.
        return false;
      }
    });
  // A builder that announces no platform (older ones always do) is not second-guessed.
  if (hello.platforms.length === 0 || matches(hello.platforms)) return 'native';
  const emulated = hello.emulatedPlatforms ?? [];
  // "*" is the embedded builder: its engine is the user's own, which decides like `docker build`
  // does (qemu binfmt or not), so depot does not second-guess it.
  if (emulated.includes('*')) return 'emulated';
  const emulates = matches(emulated);
  if (emulates && opts.allowEmulation) return 'emulated';
  const who = hello.builderId ? `builder ${hello.builderId}` : 'the builder';
  const builds = hello.platforms.map(normalizeOrKeep).join(', ');
  const named = emulated.map(normalizeOrKeep);
  const also = named.length ? `; it emulates ${named.join(', ')}` : '';
  const hint = emulates
    ? `pass --allow-emulation to build it there through emulation (slower), or use a builder of ${wanted}`
    : `build for ${builds}, or pick a builder of ${wanted} with --builder or a fleet; depot builders ls lists them`;
  throw new DepotError(
    'unsupported_platform',
    `${who} cannot build ${wanted} (it builds ${builds}${also})`,
    hint,
  );
}
