/** `depot build --smart-cache[=on|plan]`: the plan, said in words, and the Dockerfile it builds. */
import { relative } from 'node:path';
import { DepotError } from '../errors/index.js';
import { contextFiles } from '../smart-cache/context-files.js';
import { planSmartCache, type SmartPlan } from '../smart-cache/plan.js';
import type { BuildInputs, BuildOptions, BuildOutcome } from './build-inputs.js';

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

/** Differences shown by name before the rest are counted. */
const SHOWN = 10;

/**
 * `depot build --smart-cache=verify`: the user's own proof. Builds the smart plan (the result, with
 * the build's tags, --load and --push), then the original order twice — once as usual and once
 * without the cache, so that what differs between two runs of the same install (timestamps an
 * installer writes) is told apart — and compares the final filesystems entry by entry (content,
 * mode, owner, link target). Exit 1 when the smart plan changes an entry the original order makes
 * reproducibly.
 */
export async function runSmartCacheVerify(opts: BuildOptions, signal: AbortSignal): Promise<BuildOutcome> {
  const [{ runBuild }, { parsePlatforms }] = await Promise.all([
    import('./build.js'),
    import('./build-inputs.js'),
  ]);
  // On stderr, --progress json included (its events are on stdout): only --quiet silences it.
  const say = (text: string) => {
    if (!opts.quiet) process.stderr.write(`depot: smart cache verify: ${text}\n`);
  };
  say('building the smart plan');
  const smart = await runBuild({ ...opts, smartCache: 'on' }, signal);
  if (!smart.smart) {
    say('nothing to compare: the smart cache changed nothing in this Dockerfile');
    return smart;
  }
  // The comparison builds: no outputs, and with --quiet no image id of theirs on stdout.
  const plain = {
    ...opts,
    smartCache: 'off' as const,
    tag: [],
    load: false,
    push: false,
    metadataFile: undefined,
    quiet: false,
    progress: opts.quiet ? 'quiet' : opts.progress,
  };
  say('building the original order');
  const original = await runBuild(plain, signal);
  say('building the original order again, without the cache (what differs between two runs)');
  const again = await runBuild({ ...plain, cache: false }, signal);

  const { selectTargets } = await import('./targets.js');
  const { createBuilderSession } = await import('../session/index.js');
  const { chainIds } = await import('../protocol/index.js');
  const { imageEntries, differingPaths } = await import('../smart-cache/image-entries.js');
  const target = (await selectTargets(opts, parsePlatforms(opts.platform, false)))[0]!;
  const session = createBuilderSession({ url: target.url, token: target.token, project: target.project });
  try {
    const known = new Map<string, import('../smart-cache/image-entries.js').LayerEntries>();
    const read = async (o: BuildOutcome) => {
      const have = haveChains(known, o.diffIds, chainIds);
      const { stream, summary } = session.exportImage(o.imageId, have, false, signal);
      const entries = await imageEntries(stream, known);
      await summary;
      return entries;
    };
    const a = await read(original);
    const a2 = await read(again);
    const b = await read(smart);
    const noise = new Set(differingPaths(a, a2));
    const changed = differingPaths(a, b).filter((p) => !noise.has(p));
    const noiseNote = noise.size
      ? ` (${noise.size} more differ between two runs of the original order too, so they are no proof either way: ${[...noise].slice(0, 3).join(', ')}${noise.size > 3 ? ', …' : ''})`
      : '';
    if (changed.length === 0) {
      say(`the same filesystem: ${a.size} entries compared, none changed by the smart plan${noiseNote}`);
      return smart;
    }
    const shown = changed
      .slice(0, SHOWN)
      .map((p) => `${p} (original: ${a.get(p) ?? 'absent'}; smart: ${b.get(p) ?? 'absent'})`);
    throw new DepotError(
      'smart_cache_differs',
      `the smart plan changes ${changed.length} of ${a.size} entries: ${shown.join('; ')}${changed.length > SHOWN ? '; …' : ''}`,
      'build without --smart-cache, and see docs/smart-cache.md for what it relies on',
    );
  } finally {
    session.close();
    await target.close?.();
  }
}

/** Chain ids of the layers of `diffIds` already read (a prefix of the image's chain shared with earlier ones). */
function haveChains(
  known: ReadonlyMap<string, unknown>,
  diffIds: readonly string[],
  chainIds: (d: readonly string[]) => string[],
): string[] {
  let n = 0;
  while (n < diffIds.length && known.has(diffIds[n]!)) n++;
  return chainIds(diffIds.slice(0, n));
}
