import {
  formatPlatform,
  normalizePlatform,
  type Platform,
  PlatformError,
  platformOfProcess,
} from '../protocol/fleet/index.js';

/**
 * The platform to build for when none is asked: linux on this machine's CPU (linux/amd64,
 * linux/arm64/v8, linux/arm/v7…). The OS is always linux because on macOS and Windows Docker runs
 * Linux containers in a VM of the host's architecture.
 */
export function hostPlatform(nodeArch: string = process.arch): Platform {
  return platformOfProcess('linux', nodeArch);
}

/**
 * The normalised, de-duplicated platforms of a `--platform a,b` value, in the order given; the
 * host platform when the value is empty or absent. Throws PlatformError on an unknown one.
 */
export function resolveTargetPlatforms(value: string | undefined, host: Platform = hostPlatform()): string[] {
  const items = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return [formatPlatform(host)];
  const out: string[] = [];
  for (const item of items) {
    const p = normalizePlatform(item);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** The build platform forced by `--build-platform` or else DEPOT_BUILD_PLATFORM, normalised; undefined when neither. */
export function resolveBuildPlatform(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = flag?.trim() || env.DEPOT_BUILD_PLATFORM?.trim();
  if (!value) return undefined;
  if (value.includes(','))
    throw new PlatformError(`--build-platform takes one platform, not ${JSON.stringify(value)}`);
  return normalizePlatform(value);
}
