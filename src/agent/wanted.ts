/**
 * Whether a build goes through the local agent: not with --no-agent or DEPOT_NO_AGENT=1, and not
 * in CI (CI set: one build per fresh machine, nothing to keep warm) unless DEPOT_AGENT=1. It
 * imports nothing: the start of every `depot build` asks it before loading anything else.
 */
export function agentWanted(opts: { agent?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (opts.agent === false || env.DEPOT_NO_AGENT === '1' || env.DEPOT_NO_AGENT === 'true') return false;
  if (env.DEPOT_AGENT === '1' || env.DEPOT_AGENT === 'true') return true;
  return !env.CI || env.CI === 'false' || env.CI === '0';
}
