// depot bake: build targets from bake files (docker-bake.hcl, docker-bake.json, compose.yaml).
// The definition side (src/bake) resolves the targets; --print shows them as `docker buildx bake
// --print`. A build runs every target as one `depot build` of its own (same flags, same pipeline,
// through the agent when it runs), in parallel, with one live view: `[target]` on each plain line,
// a `target` field on each json event. Targets that share a context sync it once: the first of
// them syncs, the others start when the builder holds it and send only what they need beyond it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { normalizeOrKeep } from '../arch/index.js';
import type { ResolvedTarget } from '../bake/index.js';
import { writeFileDurably } from '../durable-file/index.js';
import { lines } from '../engine-api/index.js';
import { DepotError } from '../errors/index.js';
import { type BuildEvent, type ProgressMode, resolveProgressMode } from '../progress/index.js';
import { progressSinks } from './progress-sink.js';

export interface BakeCliOptions {
  file: string[];
  set: string[];
  print?: boolean;
  load?: boolean;
  push?: boolean;
  /** false with --no-cache */
  cache?: boolean;
  pull?: boolean;
  progress?: string;
  metadataFile?: string;
  builder?: string;
  token?: string;
  project?: string;
  fleet?: string;
}

/** Runs `depot bake [TARGET…]`: builds the targets, or prints the resolved definition with --print. */
export async function runBake(targets: string[], o: BakeCliOptions, signal?: AbortSignal): Promise<void> {
  const bake = await import('../bake/index.js');
  if (o.print) {
    // Resolve everything before writing anything: a bad file prints one error and no half output.
    process.stdout.write(bake.bakePrintText({ files: o.file, targets, set: o.set }));
    return;
  }
  const def = bake.loadBakeTargets({ files: o.file, targets, set: o.set });
  if (def.targets.length === 0) throw new DepotError('bake_no_targets', 'no target to build');
  // Every target's flags are checked before any build starts: one bad target stops them all.
  const argvs = new Map(def.targets.map((t) => [t.name, buildArgs(t, o)]));
  const mode = resolveProgressMode((o.progress ?? 'auto') as ProgressMode, {
    isTTY: Boolean(process.stderr.isTTY),
    ci: Boolean(process.env.CI),
  });
  // One live view with every target (a target of several platforms: one build per platform).
  const labels = def.targets.flatMap((t) =>
    (t.platforms?.length ?? 0) > 1 ? t.platforms!.map((p) => `${t.name} ${normalizeOrKeep(p)}`) : [t.name],
  );
  const { sinkFor, note, close } = await progressSinks(mode, 'target', labels);
  if (note) process.stderr.write(`depot: ${note}\n`);
  // A live view owns the terminal: the targets' own lines (notes, errors) are said after it.
  const held: string[] | undefined = mode === 'tty' ? [] : undefined;
  const say = (line: string) => (held ? held.push(line) : process.stderr.write(line));
  const metaDir = o.metadataFile ? mkdtempSync(join(tmpdir(), 'depot-bake-')) : undefined;
  const ran = new Map<string, { code: number; lastError: string }>();
  try {
    // Targets by context: the first of each syncs, the rest wait for its snapshot on the builder.
    const byContext = new Map<string, ResolvedTarget[]>();
    for (const t of def.targets) {
      const key = resolve(t.context);
      byContext.set(key, [...(byContext.get(key) ?? []), t]);
    }
    const runOne = (t: ResolvedTarget, onSynced?: () => void) =>
      runTarget(t, argvs.get(t.name)!, {
        mode,
        sinkFor,
        say,
        metadataFile: metaDir ? join(metaDir, `${t.name}.json`) : undefined,
        onSynced,
        signal,
      }).then((r) => {
        ran.set(t.name, r);
      });
    await Promise.all(
      [...byContext.values()].map(async ([first, ...rest]) => {
        let synced!: () => void;
        const ready = new Promise<void>((r) => {
          synced = r;
        });
        const firstDone = runOne(first!, synced).finally(synced);
        await ready;
        await Promise.all([firstDone, ...rest.map((t) => runOne(t))]);
      }),
    );
  } finally {
    await close();
    for (const line of held ?? []) process.stderr.write(line);
  }
  const failed = def.targets.filter((t) => (ran.get(t.name)?.code ?? 1) !== 0);
  if (metaDir && o.metadataFile) {
    // One entry per target, as buildx writes it.
    const meta: Record<string, unknown> = {};
    for (const t of def.targets) {
      try {
        meta[t.name] = JSON.parse(readFileSync(join(metaDir, `${t.name}.json`), 'utf8'));
      } catch {
        // A target that failed has no metadata.
      }
    }
    rmSync(metaDir, { recursive: true, force: true });
    if (failed.length === 0) await writeFileDurably(o.metadataFile, `${JSON.stringify(meta, null, 2)}\n`);
  }
  if (failed.length)
    throw new DepotError(
      'bake_failed',
      `${failed.length} of ${def.targets.length} targets failed: ${failed
        .map((t) => `${t.name} (${ran.get(t.name)?.lastError || 'failed'})`)
        .join('; ')}`,
    );
}

/** The `depot build` arguments of one target (its Dockerfile path as buildx resolves it: under the context). */
export function buildArgs(t: ResolvedTarget, o: BakeCliOptions): string[] {
  const a: string[] = ['build', '--progress', 'json'];
  const csv = (type: string, attrs: Record<string, string>, dest?: string) =>
    [
      `type=${type}`,
      ...(dest !== undefined ? [`dest=${dest}`] : []),
      ...Object.entries(attrs).map(([k, v]) => `${k}=${v}`),
    ].join(',');
  if (t.dockerfileInline !== undefined) a.push('-f', '-');
  else a.push('-f', isAbsolute(t.dockerfile) ? t.dockerfile : join(t.context, t.dockerfile));
  for (const [k, v] of Object.entries(t.args ?? {})) a.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of Object.entries(t.labels ?? {})) a.push('--label', `${k}=${v}`);
  for (const tag of t.tags ?? []) a.push('-t', tag);
  if (t.target) a.push('--target', t.target);
  if (t.platforms?.length) a.push('--platform', t.platforms.join(','));
  if (t.noCache || o.cache === false) a.push('--no-cache');
  if (t.pull || o.pull) a.push('--pull');
  if (t.network) a.push('--network', t.network);
  for (const s of t.secret ?? [])
    a.push(
      '--secret',
      [s.id && `id=${s.id}`, s.src && `src=${s.src}`, s.env && `env=${s.env}`].filter(Boolean).join(','),
    );
  for (const s of t.ssh ?? []) {
    if ((s.paths?.length ?? 0) > 1)
      throw new DepotError(
        'invalid_bake_target',
        `target ${t.name}: ssh ${s.id} names ${s.paths?.length} agent sockets; depot forwards one per id`,
      );
    a.push('--ssh', s.paths?.[0] ? `${s.id}=${s.paths[0]}` : s.id);
  }
  for (const c of t.cacheFrom ?? []) a.push('--cache-from', csv(c.type, c.attrs));
  for (const c of t.cacheTo ?? []) a.push('--cache-to', csv(c.type, c.attrs));
  for (const out of t.output ?? []) a.push('-o', csv(out.type, out.attrs, out.dest));
  if (o.load) a.push('--load');
  if (o.push) a.push('--push');
  for (const [flag, v] of [
    ['--builder', o.builder],
    ['--token', o.token],
    ['--project', o.project],
    ['--fleet', o.fleet],
  ] as const)
    if (v) a.push(flag, v);
  a.push(t.context);
  return a;
}

interface TargetRun {
  mode: string;
  sinkFor(label: string): { handle(e: BuildEvent): void };
  /** Writes one of the target's stderr lines. */
  say(line: string): void;
  metadataFile?: string;
  /** Called once the target's context is on the builder (or the target ended without a sync). */
  onSynced?: () => void;
  signal?: AbortSignal;
}

/** Runs one target's `depot build`, relaying its events and its error lines under its name. */
async function runTarget(
  t: ResolvedTarget,
  args: string[],
  r: TargetRun,
): Promise<{ code: number; lastError: string }> {
  const argv = [...args];
  if (r.metadataFile) argv.splice(argv.length - 1, 0, '--metadata-file', r.metadataFile);
  // This very CLI, started the way this process was (a loader such as tsx included; a debugger's
  // port is this process's own).
  const nodeFlags = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, process.argv[1] ?? '', ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: process.env,
  });
  const onAbort = () => child.kill('SIGINT');
  r.signal?.addEventListener('abort', onAbort, { once: true });
  child.stdin?.on('error', () => {});
  child.stdin?.end(t.dockerfileInline ?? '');
  let lastError = '';
  const events = (async () => {
    for await (const line of lines(child.stdout!)) {
      let event: BuildEvent & { platform?: string };
      try {
        event = JSON.parse(line) as BuildEvent & { platform?: string };
      } catch {
        continue;
      }
      if (event.type === 'sync/acked') r.onSynced?.();
      if (r.mode === 'json') process.stdout.write(`${JSON.stringify({ target: t.name, ...event })}\n`);
      else if (r.mode !== 'quiet') {
        // A build of several platforms says which one each event is of (build/started always does).
        const several = (t.platforms?.length ?? 0) > 1 && event.platform;
        r.sinkFor(several ? `${t.name} ${event.platform}` : t.name).handle(event);
      }
    }
  })();
  const errors = (async () => {
    for await (const line of lines(child.stderr!)) {
      if (line.startsWith('depot: ')) lastError = line.slice(7);
      r.say(`[${t.name}] ${line}\n`);
    }
  })();
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
  await Promise.all([events, errors]);
  r.signal?.removeEventListener('abort', onAbort);
  r.onSynced?.();
  return { code, lastError };
}
