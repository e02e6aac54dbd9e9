/** `depot build --smart-cache[=on|plan]`: the plan, said in words, and the Dockerfile it builds. */
import { relative } from 'node:path';
import { contextFiles } from '../smart-cache/context-files.js';
import { planSmartCache, type SmartPlan } from '../smart-cache/plan.js';
import type { BuildInputs, BuildOptions } from './build.js';

/** One line per rewrite and per refusal, as `--smart-cache=plan` prints them. */
export function describePlan(plan: SmartPlan, dockerfileName: string): string {
  const out: string[] = [];
  for (const r of plan.rewrites)
    out.push(
      `${dockerfileName}:${r.copyLine}: ${r.installer} (line ${r.installLine}) runs on ${r.manifests.join(', ')} alone; the rest of the context is copied after it: a source edit reuses the install`,
    );
  for (const r of plan.refusals) out.push(`${dockerfileName}:${r.line}: left as it is: ${r.reason}`);
  if (out.length === 0)
    out.push(`${dockerfileName}: nothing to do: no \`COPY . .\` followed by a known install`);
  return `${out.join('\n')}\n`;
}

/**
 * Plans the smart cache for this build. `plan` mode prints the plan and the Dockerfile it would
 * build on stdout; `on` says in one line per step what it changed (stderr, not with --quiet) and
 * returns the plan, or undefined when there is nothing to change.
 */
export async function smartCachePlan(
  opts: Pick<BuildOptions, 'smartCache' | 'quiet' | 'progress'>,
  inputs: Pick<BuildInputs, 'contextDir' | 'dockerfileAbs'>,
  dockerfile: string,
): Promise<SmartPlan | undefined> {
  const plan = await planSmartCache(dockerfile, await contextFiles(inputs.contextDir, inputs.dockerfileAbs));
  const name = inputs.dockerfileAbs
    ? relative(process.cwd(), inputs.dockerfileAbs) || 'Dockerfile'
    : 'Dockerfile';
  if (opts.smartCache === 'plan') {
    let text = describePlan(plan, name);
    if (plan.rewrites.length)
      text += `\n# the Dockerfile depot builds with --smart-cache:\n${plan.dockerfile}${plan.dockerfile.endsWith('\n') ? '' : '\n'}`;
    process.stdout.write(text);
    return undefined;
  }
  if (!opts.quiet && opts.progress !== 'json')
    for (const line of describePlan(plan, name).trimEnd().split('\n'))
      process.stderr.write(`depot: smart cache: ${line}\n`);
  return plan.rewrites.length ? plan : undefined;
}
