/**
 * `depot dev --sync`: the rules from the flags, depot.json or the Dockerfile (`--sync auto`),
 * composed with the container side into what the dev loop needs (LiveSyncDeps).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { PatternMatcher, readIgnorePatterns } from '../context-sync/ignore.js';
import { walk } from '../context-sync/scan.js';
import type { LiveSyncDeps } from '../dev/loop.js';
import {
  covers,
  deriveAutoRules,
  loadSyncConfig,
  localPathFacts,
  mergeSyncSettings,
  parseSyncFlags,
  planSync,
  type SyncRequest,
  syncRequested,
} from '../dev/sync-rules.js';
import type { SyncPlan, SyncRule, SyncSettings } from '../dev/sync-types.js';
import { createContainerSyncer } from '../docker/container-sync.js';
import type { LocalEngine } from '../docker/index.js';
import { DepotError } from '../errors/index.js';

export interface DevSyncOptions {
  sync?: string[];
  syncExec?: string;
  syncRestart?: boolean;
  rebuildOn?: string[];
  run?: string;
  target?: string;
}

/** sha256 (hex) of a file, streamed; undefined when it is gone. */
async function hashFile(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

/** Context files the build would send (for `--sync auto`: which sources are files, which directories). */
async function contextFileList(contextDir: string, dockerfileAbs: string | undefined): Promise<string[]> {
  const { patterns } = await readIgnorePatterns(contextDir, dockerfileAbs);
  const found = await walk(contextDir, new PatternMatcher(patterns));
  return found.filter((f) => f.kind !== 'dir').map((f) => f.rel);
}

/** One line per rule for the dev screen: `src → /app/src (Dockerfile:7)`. */
export function ruleLine(r: SyncRule): string {
  const owner = r.uid !== undefined ? ` as ${r.uid}:${r.gid ?? r.uid}` : '';
  return `${r.src || '.'} → ${r.dest}${owner} (${r.origin})`;
}

/**
 * The loop's `--sync` side, or undefined when no rule is asked for (flags or depot.json).
 * `onRules` gets the rule lines (and what `--sync auto` could not take) whenever they are derived.
 */
export async function devLiveSync(
  opts: DevSyncOptions,
  inputs: { contextDir: string; dockerfileAbs?: string; buildArgs: Record<string, string> },
  local: LocalEngine,
  onRules: (lines: string[]) => void,
): Promise<LiveSyncDeps | undefined> {
  const { contextDir, dockerfileAbs } = inputs;
  const flags = parseSyncFlags(
    {
      sync: opts.sync ?? [],
      syncExec: opts.syncExec,
      syncRestart: opts.syncRestart,
      rebuildOn: opts.rebuildOn ?? [],
    },
    contextDir,
  );
  const request: SyncRequest = mergeSyncSettings(await loadSyncConfig(contextDir), flags);
  if (!syncRequested(request)) return undefined;
  if (!opts.run)
    throw new DepotError(
      'invalid_flag',
      '--sync live-updates the container depot dev runs, and there is none',
      'add --run "ARGS" (the `docker run` arguments of the app)',
    );
  const dockerfileName = dockerfileAbs
    ? relative(contextDir, dockerfileAbs) || basename(dockerfileAbs)
    : 'Dockerfile';
  /** Rules set aside because the running image lacks their destination (checked per container). */
  let absent = new Set<SyncRule>();
  /** The lines `--sync auto` adds below the rules (what it could not take). */
  let notes: string[] = [];
  const show = (rules: SyncRule[]) =>
    onRules([
      ...rules.map((r) =>
        absent.has(r)
          ? `not synced: ${ruleLine(r)}: ${r.dest} is not in the image; changes under ${r.src || 'the context'} rebuild`
          : ruleLine(r),
      ),
      ...notes,
    ]);
  const derive = async (): Promise<SyncSettings> => {
    if (!request.auto) {
      show(request.settings.rules);
      return request.settings;
    }
    const text = dockerfileAbs ? await readFile(dockerfileAbs, 'utf8') : '';
    const auto = deriveAutoRules(text, {
      target: opts.target,
      buildArgs: inputs.buildArgs,
      contextFiles: await contextFileList(contextDir, dockerfileAbs),
      dockerfileName,
    });
    notes = [
      ...auto.refused.map(
        (r) => `not synced: ${r.instruction ? `${r.instruction} ` : ''}(${r.origin}): ${r.reason}`,
      ),
      ...(auto.rules.length ? [] : ['no rule: every change rebuilds']),
    ];
    absent = new Set();
    show(auto.rules);
    return { ...request.settings, rules: auto.rules, buildReads: auto.buildReads };
  };
  let settings = await derive();
  const facts = localPathFacts(contextDir);
  const planOptions = { contextDir, dockerfile: dockerfileAbs };
  const dockerfileRel = dockerfileAbs ? relative(contextDir, dockerfileAbs) : '';
  const syncer = createContainerSyncer(local);
  return {
    async plan(paths) {
      const unusable = settings.rules.filter((r) => absent.has(r));
      const setAside = paths
        .map((p) => ({ p, r: unusable.find((r) => covers(r, p)) }))
        .find((x) => x.r !== undefined);
      const plan: SyncPlan = setAside?.r
        ? {
            kind: 'rebuild',
            reason: `${setAside.p}: the rule's destination ${setAside.r.dest} is not in the image`,
          }
        : planSync(
            { ...settings, rules: settings.rules.filter((r) => !absent.has(r)) },
            paths,
            facts,
            planOptions,
          );
      // A new Dockerfile (or depot.json) rebuilds; `--sync auto` reads its rules from it again.
      if (request.auto && paths.some((p) => p === dockerfileRel || p === 'depot.json'))
        settings = await derive().catch(() => settings);
      return plan;
    },
    // Syncing into a destination the image does not have would make the container differ from
    // every image to come (found as drift after each build): such a rule rebuilds instead.
    async checkContainer(containerId, signal) {
      const rules = settings.rules;
      const gone = new Set(
        await syncer.missing(
          containerId,
          rules.map((r) => r.dest),
          signal,
        ),
      );
      const now = new Set(rules.filter((r) => gone.has(r.dest)));
      const changed = now.size !== absent.size || [...now].some((r) => !absent.has(r));
      absent = now;
      if (changed) show(rules);
    },
    syncer,
    settings: { exec: settings.exec, restart: settings.restart },
    hashFile,
  };
}
