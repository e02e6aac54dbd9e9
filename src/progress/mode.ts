/** The `--progress` flag's values, as in BuildKit (`rawjson` is our `json`). */
export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

/** A concrete mode once `auto` has been decided. */
export type ResolvedProgressMode = Exclude<ProgressMode, 'auto'>;

/** Facts about the output the `auto` choice depends on. */
export interface ProgressEnvironment {
  isTTY: boolean;
  ci: boolean;
}

/** `auto` is the live view only on a terminal outside CI (like BuildKit's progressui), else plain. */
export function resolveProgressMode(mode: ProgressMode, env: ProgressEnvironment): ResolvedProgressMode {
  if (mode !== 'auto') return mode;
  return env.isTTY && !env.ci ? 'tty' : 'plain';
}

/** Whether a string is a valid `--progress` value. */
export function isProgressMode(value: string): value is ProgressMode {
  return value === 'auto' || value === 'tty' || value === 'plain' || value === 'json' || value === 'quiet';
}
