import { existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { normalizePlatform, resolveBuildPlatform } from '../arch/index.js';
import { readIgnorePatterns } from '../context-sync/ignore.js';
import { writeFileDurably } from '../durable-file/index.js';
import { type BuildState, summarize } from '../progress/index.js';
import { parseReference, type RegistryAuth, registryAuthForBuild } from '../registry/index.js';
import {
  type BuilderSession,
  DepotError,
  requireBuildCapabilities,
  requirePlatform,
  validateBuilderUrl,
} from '../session/index.js';
import type { SmartPlan } from '../smart-cache/plan.js';
import { loadSecrets, resolveSshAgents } from './build-secrets.js';
import { loadToken, openConfig } from './credentials.js';
import {
  type EngineFlagOptions,
  type EngineFlagsResult,
  engineFlags,
  readEngineFlags,
} from './engine-flags.js';
import { requireLocalEngine } from './local-engine-check.js';
import type { OutputSpec } from './output-flag.js';
import type { PlatformTarget } from './targets.js';

export interface BuildOptions extends EngineFlagOptions {
  context: string;
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  platform?: string;
  cache: boolean;
  pull: boolean;
  label: string[];
  load: boolean;
  progress: string;
  metadataFile?: string;
  builder?: string;
  token?: string;
  project?: string;
  /** Fleet registry spec (file:PATH, ssm:/PREFIX). */
  fleet?: string;
  /** Build every platform on builders of this one. */
  buildPlatform?: string;
  /** Accept a builder that emulates the platform. */
  allowEmulation?: boolean;
  quiet?: boolean;
  /** `--smart-cache`: off, on (build the smart plan), plan (print it, build nothing). */
  smartCache?: 'off' | 'on' | 'plan' | 'verify';
  /** Push every tag to its registry after a good build (several platforms: one image index). */
  push?: boolean;
  /** `--secret id=ID[,src=PATH|env=VAR][,type=file|env]` (repeatable). */
  secret?: string[];
  /** `--ssh default|ID[=SOCKET]` (repeatable). */
  ssh?: string[];
  /** false with --no-agent: scan and sync in this process. */
  agent?: boolean;
  /** `-o type=local|tar`: the build's files come back instead of an image (image outputs are folded into load/push). */
  output?: OutputSpec;
}

/** What one build produced, for callers (and the metadata file). */
export interface BuildOutcome {
  ok: boolean;
  imageId: string;
  state: BuildState;
  /** Diff ids of the image's layers, bottom first, when known. */
  diffIds: string[];
  /** The smart cache's plan this build built, when it rewrote anything. */
  smart?: SmartPlan;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `K=V` pairs; a bare `K` is taken from the environment (`env`) or given an empty value (`empty`). */
function parseKeyValues(list: string[], flag: string, bare: 'env' | 'empty'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new DepotError('invalid_flag', `invalid ${flag} ${JSON.stringify(item)}: empty name`);
    if (eq < 0) {
      // docker: `--label K` is a label with an empty value; `--build-arg K` takes K from the
      // environment, and is dropped when unset.
      const v = bare === 'empty' ? '' : process.env[item];
      if (v !== undefined) out[item] = v;
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * Refuses, before any sync, a platform the builder that answered Hello neither builds nor (with
 * --allow-emulation) emulates. Fleet-routed targets were matched against the fleet's records already;
 * with --build-platform the builder must run that platform instead.
 */
export function checkTargetPlatform(
  hello: Parameters<typeof requirePlatform>[0],
  target: Pick<PlatformTarget, 'platform' | 'routed'>,
  opts: Pick<BuildOptions, 'allowEmulation' | 'buildPlatform' | 'quiet'>,
): void {
  if (target.routed) return;
  const runOn = resolveBuildPlatform(opts.buildPlatform) ?? target.platform;
  if (requirePlatform(hello, runOn, opts) === 'emulated' && !opts.quiet)
    process.stderr.write(
      `depot: ${hello.builderId ? `builder ${hello.builderId}` : 'the builder'} emulates ${runOn}, which is slower\n`,
    );
}

/** Splits and checks `--platform a,b`; several platforms only where the caller allows them. */
export function parsePlatforms(value: string | undefined, allowSeveral: boolean): string[] {
  if (!value) return [];
  const list = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (list.length > 1 && !allowSeveral)
    throw new DepotError(
      'invalid_platform',
      'several platforms are not supported by this command yet',
      'pass one --platform',
    );
  for (let i = 0; i < list.length; i++) list[i] = normalizePlatform(list[i]!);
  if (new Set(list).size !== list.length)
    throw new DepotError('invalid_platform', `a platform is listed twice in ${JSON.stringify(value)}`);
  return list;
}

/**
 * What fails fast, before a builder is found or any progress is shown: the local engine `--load`
 * needs must answer, and a bad .dockerignore line is the user's to fix.
 */
export async function checkBeforeSync(
  opts: Pick<BuildOptions, 'load'>,
  inputs: Pick<BuildInputs, 'contextDir' | 'dockerfileAbs'>,
): Promise<void> {
  if (opts.load) await requireLocalEngine();
  await readIgnorePatterns(inputs.contextDir, inputs.dockerfileAbs);
}

/** Checks every -t exactly as docker does (same grammar and words), before anything is sent. */
export function validateTags(tags: string[]): void {
  for (const t of tags) parseReference(t);
}

/** The resolved inputs of a build: where the context is, which Dockerfile, which args. */
export interface BuildInputs {
  contextDir: string;
  /** Absolute path of the Dockerfile, unless it came from stdin. */
  dockerfileAbs: string | undefined;
  /** Dockerfile bytes when they came from stdin. */
  dockerfileContent: Buffer | undefined;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** `--secret` values by id, read at start; only ever sent in BuildRequest.secrets. */
  secrets: Record<string, Buffer>;
  /** `--ssh` agents: id → absolute path of a local agent socket. */
  ssh: Record<string, string>;
  /** A temp context made from stdin, removed by cleanup(). */
  cleanup(): void;
  /** The context came from stdin (a temp directory of this process). */
  fromStdin?: boolean;
}

/** Validates flags and resolves the context and Dockerfile like `docker build` does. */
export async function resolveBuildInputs(
  opts: BuildOptions,
  allowSeveralPlatforms = false,
): Promise<BuildInputs> {
  validateTags(opts.tag);
  parsePlatforms(opts.platform, allowSeveralPlatforms);
  // docker's engine flags: their syntax and bounds need no builder (what it allows, its Hello).
  readEngineFlags(opts);
  if (opts.push && opts.tag.length === 0)
    throw new DepotError(
      'invalid_flag',
      '--push needs at least one -t NAME:TAG',
      'e.g. -t registry:5000/app:1',
    );
  if (opts.context === '-' && opts.file === '-')
    throw new DepotError('invalid_flag', 'the context and the Dockerfile cannot both come from stdin');
  const buildArgs = parseKeyValues(opts.buildArg, '--build-arg', 'env');
  const labels = parseKeyValues(opts.label, '--label', 'empty');
  // Before anything is read from stdin or sent: a bad --secret or --ssh fails at once.
  const secrets = await loadSecrets(opts.secret);
  const ssh = await resolveSshAgents(opts.ssh);

  let tempContext: string | undefined;
  const cleanup = () => {
    if (tempContext) rmSync(tempContext, { recursive: true, force: true });
  };
  let contextDir: string;
  let dockerfileContent: Buffer | undefined;
  if (opts.context === '-') {
    // Like docker: stdin is either a context tar (gzip allowed) or a Dockerfile with no context.
    tempContext = mkdtempSync(join(tmpdir(), 'depot-ctx-'));
    contextDir = tempContext;
    try {
      // Loaded only when needed: a CLI start-up pays for every module it imports.
      const { readStdinContext } = await import('./stdin-context.js');
      dockerfileContent = await readStdinContext(process.stdin, tempContext);
    } catch (err) {
      cleanup();
      throw err;
    }
  } else {
    const abs = resolve(opts.context);
    if (!existsSync(abs))
      throw new DepotError('context_not_found', `build context not found: ${opts.context}`);
    if (!statSync(abs).isDirectory())
      throw new DepotError('context_not_dir', `build context is not a directory: ${opts.context}`);
    contextDir = realpathSync(abs);
  }
  let dockerfileAbs: string | undefined;
  if (opts.file === '-') {
    dockerfileContent = await readStdin();
  } else if (!dockerfileContent) {
    dockerfileAbs = opts.file ? resolve(opts.file) : join(contextDir, 'Dockerfile');
    if (!existsSync(dockerfileAbs) || !statSync(dockerfileAbs).isFile()) {
      cleanup();
      throw new DepotError(
        'dockerfile_not_found',
        `no Dockerfile at ${opts.file ?? relative(process.cwd(), dockerfileAbs) ?? dockerfileAbs}`,
        opts.file ? 'check the -f path' : 'create a Dockerfile in the context or pass -f PATH',
      );
    }
    dockerfileAbs = realpathSync(dockerfileAbs);
  }
  return {
    contextDir,
    dockerfileAbs,
    dockerfileContent,
    buildArgs,
    labels,
    secrets,
    ssh,
    cleanup,
    fromStdin: tempContext !== undefined,
  };
}

/** A builder to talk to: the configured remote one, else an embedded one in this process. */
export interface BuilderTarget {
  url: string;
  token: string;
  project: string | undefined;
  embedded: boolean;
  close(): Promise<void>;
}

/** Picks the builder from flags, env and `depot login`, or starts the embedded one. */
export async function openBuilderTarget(opts: {
  builder?: string;
  token?: string;
  project?: string;
}): Promise<BuilderTarget> {
  const config = openConfig();
  const given = opts.builder || process.env.DEPOT_BUILDER || config.get('builder');
  const url = given ? validateBuilderUrl(given) : undefined;
  const project = opts.project || process.env.DEPOT_PROJECT || config.get('project');
  if (!url) {
    // The embedded builder (store, engine driver, history) is loaded only when it is used.
    const { startEmbeddedBuilder } = await import('./embedded.js');
    const embedded = await startEmbeddedBuilder();
    return {
      url: embedded.url,
      token: embedded.token,
      project,
      embedded: true,
      close: () => embedded.close(),
    };
  }
  const token = opts.token || process.env.DEPOT_TOKEN || (await loadToken(url));
  if (!token)
    throw new DepotError(
      'unauthenticated',
      `no token for builder ${url}`,
      `run \`depot login --builder ${url}\` or pass --token / DEPOT_TOKEN`,
    );
  return { url, token, project, embedded: false, close: async () => {} };
}

/** What `-t` without `--load` or `--push` means on a remote builder (buildx warns the same way). */
export const NO_OUTPUT_WARNING =
  'no output specified: the image stays on the builder; use --load to bring it into local Docker or --push to push it';

/** Whether tags were given but the image goes nowhere: neither loaded nor pushed. */
export function noOutputForTags(opts: Pick<BuildOptions, 'tag' | 'load' | 'push'>): boolean {
  return opts.tag.length > 0 && !opts.load && !opts.push;
}

/** The Dockerfile's text, from stdin or its file ('' when there is none). */
export async function dockerfileText(inputs: Pick<BuildInputs, 'dockerfileAbs' | 'dockerfileContent'>) {
  if (inputs.dockerfileContent) return inputs.dockerfileContent.toString('utf8');
  return inputs.dockerfileAbs ? readFile(inputs.dockerfileAbs, 'utf8') : '';
}

/**
 * Registry credentials (from the Docker config) a build carries: the registries of the tags it
 * pushes (with --push) and of the images its Dockerfile pulls (private base images). A pull-only
 * registry whose credentials cannot be read is a note on stderr, not an error.
 */
export async function buildRegistryAuth(
  opts: Pick<BuildOptions, 'push' | 'tag' | 'quiet'>,
  inputs: Pick<BuildInputs, 'buildArgs'>,
  /** The Dockerfile's text (dockerfileText). */
  dockerfile: string,
): Promise<Record<string, RegistryAuth>> {
  const r = await registryAuthForBuild({
    pushTags: opts.push ? opts.tag : [],
    dockerfile,
    buildArgs: inputs.buildArgs,
  });
  if (!opts.quiet) for (const w of r.warnings) process.stderr.write(`depot: ${w}\n`);
  return r.auth;
}

/** One pushed tag as the builder reports it. */
export interface PushedRef {
  repository: string;
  tag: string;
  digest: string;
  size: number;
  mediaType: string;
}

/** What to do about a failed build, when its code says more than the engine's message. */
export function failureHint(code: string, error: string): string | undefined {
  if (code === 'registry_denied') {
    const where = /host (\S+) failed/.exec(error)?.[1] ?? 'the registry';
    return `the registry refused the base image: run docker login ${where}; depot passes the Docker credentials of the base images' registries to the builder for each build`;
  }
  if (code === 'session_lost') return 'the builder lost its connection to its engine; run the build again';
  if (code === 'builder_shutdown') return 'run the build again when the builder is back';
  return undefined;
}

export async function writeMetadata(
  file: string,
  imageId: string,
  tags: string[],
  state: BuildState,
  manifestDigest?: string,
  smart?: SmartPlan,
): Promise<void> {
  const s = summarize(state);
  const meta: Record<string, unknown> = {
    'containerimage.config.digest': imageId,
    'containerimage.digest': manifestDigest || imageId,
    'depot.build.id': state.buildId,
    'depot.snapshot.id': state.sync?.snapshotId ?? '',
    'depot.steps.total': s.steps,
    'depot.steps.cached': s.cached,
    'depot.sync.bytes': s.bytesSynced,
    'depot.load.bytes': s.bytesLoaded,
  };
  if (smart) {
    // Installs moved before the rest of the copy, and how many of them this build reused.
    meta['depot.smart-cache.rewritten'] = smart.rewrites.length;
    meta['depot.smart-cache.reused'] = state.steps.filter((step) => step.reused).length;
  }
  if (tags.length) meta['image.name'] = tags.join(',');
  await writeFileDurably(file, `${JSON.stringify(meta, null, 2)}\n`);
}

/** What a builder said when greeted, and docker's engine flags as it takes them. */
export interface Greeting {
  hello: Awaited<ReturnType<BuilderSession['hello']>>;
  flags: EngineFlagsResult;
}

/** What a build asks of its builder, checked against its Hello. */
export interface BuildAsks {
  opts: BuildOptions;
  inputs: Pick<BuildInputs, 'secrets' | 'ssh'>;
  target: Pick<PlatformTarget, 'platform' | 'routed'>;
}

/**
 * Whether the builder that answered Hello can serve the build — `--secret`/`--ssh`, docker's
 * engine flags, the platform (or its emulation) — and the engine flags as it takes them. Throws
 * the one-line reason when it cannot.
 */
export function checkBuilder(hello: Greeting['hello'], build: BuildAsks): EngineFlagsResult {
  requireBuildCapabilities(hello, {
    secrets: Object.keys(build.inputs.secrets).length > 0,
    ssh: Object.keys(build.inputs.ssh).length > 0,
  });
  const flags = engineFlags(build.opts, hello);
  checkTargetPlatform(hello, build.target, build.opts);
  return flags;
}

/** The greeting every build makes before it syncs: Hello, then checkBuilder. */
export async function greetBuilder(
  session: BuilderSession,
  signal: AbortSignal,
  build: BuildAsks,
): Promise<Greeting> {
  const hello = await session.hello(signal);
  return { hello, flags: checkBuilder(hello, build) };
}
