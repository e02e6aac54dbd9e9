import * as grpc from '@grpc/grpc-js';
import { RpcError } from './rpc-error.js';

export { parseDuration, parseSize } from '../units.js';

/**
 * What one client may ask of a shared builder. Each is checked where the input arrives, before it
 * reaches the store or the engine, and answers INVALID_ARGUMENT (a request too big) or
 * RESOURCE_EXHAUSTED (a share of the builder used up) with one line naming the limit.
 */
export interface Limits {
  /** Bytes of a Dockerfile (inline or from the context). */
  dockerfileBytes: number;
  /** Instructions of a Dockerfile (continuation lines, comments and blank lines aside). */
  dockerfileInstructions: number;
  /** Number of build args; each value's bytes; all names and values together. */
  buildArgs: number;
  buildArgBytes: number;
  buildArgsTotalBytes: number;
  /** Entries of one snapshot's manifest. */
  manifestEntries: number;
  /** Bytes of one file of a context. */
  blobBytes: number;
  /** Tags, labels, secrets and SSH ids of one build, and the bytes of each label and secret. */
  tags: number;
  labels: number;
  labelBytes: number;
  secrets: number;
  secretBytes: number;
  sshIds: number;
  /** Bytes of distinct blobs a project may hold; undefined: no quota. */
  projectQuotaBytes: number | undefined;
  /** Builds one project may run at a time. */
  buildsPerProject: number;
  /** Syncs the builder receives at a time (all projects). */
  syncs: number;
  /** A build's -o output: bytes (files or tar), paths, bytes of one path, and files the client may list as held. */
  outputBytes: number;
  outputFiles: number;
  outputPathLength: number;
  outputHave: number;
  /** A Sync that sends nothing for this long is ended (DEADLINE_EXCEEDED) and its temp file removed. */
  syncIdleMs: number;
}

/** What a client-chosen build id may be (it names the build on the engine and in the history). */
export const BUILD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_LIMITS: Limits = {
  dockerfileBytes: MiB,
  dockerfileInstructions: 10_000,
  buildArgs: 1000,
  buildArgBytes: 64 * KiB,
  buildArgsTotalBytes: MiB,
  manifestEntries: 500_000,
  blobBytes: 10 * GiB,
  tags: 100,
  labels: 1000,
  labelBytes: 64 * KiB,
  secrets: 100,
  secretBytes: 500 * KiB,
  sshIds: 16,
  projectQuotaBytes: undefined,
  buildsPerProject: 4,
  syncs: 64,
  syncIdleMs: 60_000,
  outputBytes: 10 * GiB,
  outputFiles: 200_000,
  outputPathLength: 4096,
  outputHave: 10_000,
};

/** Bytes in the binary units the flags use: 1MiB, 64KiB, 51.5MiB, 700B. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}

const invalid = (message: string) => new RpcError(grpc.status.INVALID_ARGUMENT, message);

/** How many instructions a Dockerfile has: lines that start one (not comments, blanks or continuations). */
export function countInstructions(text: string, stopAfter = Number.POSITIVE_INFINITY): number {
  let n = 0;
  let continued = false;
  let start = 0;
  while (start <= text.length && n <= stopAfter) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    if (!continued) n++;
    continued = line.endsWith('\\');
  }
  return n;
}

/** Refuses a Dockerfile larger than the limits, before it is parsed, resolved or sent to the engine. */
export function checkDockerfile(limits: Limits, bytes: Buffer | number, text?: () => string): void {
  const size = typeof bytes === 'number' ? bytes : bytes.length;
  if (size > limits.dockerfileBytes)
    throw invalid(
      `the Dockerfile is ${formatBytes(size)}, more than this builder's limit of ${formatBytes(limits.dockerfileBytes)}`,
    );
  if (text) {
    const n = countInstructions(text(), limits.dockerfileInstructions);
    if (n > limits.dockerfileInstructions)
      throw invalid(
        `the Dockerfile has more than ${limits.dockerfileInstructions} instructions, this builder's limit`,
      );
  }
}

export interface BuildInputs {
  buildArgs?: Record<string, string>;
  tags?: string[];
  labels?: Record<string, string>;
  secrets?: Record<string, Buffer | Uint8Array | string>;
  sshIds?: string[];
}

/** Refuses a Build whose args, tags, labels, secrets or SSH ids exceed the limits. */
export function checkBuildInputs(limits: Limits, req: BuildInputs): void {
  const args = Object.entries(req.buildArgs ?? {});
  if (args.length > limits.buildArgs)
    throw invalid(`${args.length} build args, more than this builder's limit of ${limits.buildArgs}`);
  let total = 0;
  for (const [k, v] of args) {
    const size = Buffer.byteLength(v);
    if (size > limits.buildArgBytes)
      throw invalid(
        `build arg ${JSON.stringify(k.slice(0, 64))} is ${formatBytes(size)}, more than this builder's limit of ${formatBytes(limits.buildArgBytes)}`,
      );
    total += size + Buffer.byteLength(k);
  }
  if (total > limits.buildArgsTotalBytes)
    throw invalid(
      `build args total ${formatBytes(total)}, more than this builder's limit of ${formatBytes(limits.buildArgsTotalBytes)}`,
    );
  const count = (what: string, n: number, max: number) => {
    if (n > max) throw invalid(`${n} ${what}, more than this builder's limit of ${max}`);
  };
  count('tags', req.tags?.length ?? 0, limits.tags);
  const labels = Object.entries(req.labels ?? {});
  count('labels', labels.length, limits.labels);
  for (const [k, v] of labels)
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > limits.labelBytes)
      throw invalid(
        `label ${JSON.stringify(k.slice(0, 64))} is more than this builder's limit of ${formatBytes(limits.labelBytes)}`,
      );
  const secrets = Object.entries(req.secrets ?? {});
  count('secrets', secrets.length, limits.secrets);
  for (const [k, v] of secrets)
    if ((typeof v === 'string' ? Buffer.byteLength(v) : v.length) > limits.secretBytes)
      throw invalid(
        `secret ${JSON.stringify(k.slice(0, 64))} is more than this builder's limit of ${formatBytes(limits.secretBytes)}`,
      );
  count('SSH ids', req.sshIds?.length ?? 0, limits.sshIds);
}

/** Refuses a manifest with too many entries or a file larger than the limits (sizes as declared). */
export function checkManifestSize(limits: Limits, entries: number): void {
  if (entries > limits.manifestEntries)
    throw invalid(
      `the context has ${entries} entries, more than this builder's limit of ${limits.manifestEntries}: exclude files with .dockerignore`,
    );
}

export function checkFileSize(limits: Limits, path: string, size: number): void {
  // Protobuf 64-bit sizes load as Number: 2^64-1 arrives as an unsafe 1.8e19.
  if (!Number.isSafeInteger(size) || size < 0)
    throw invalid(`invalid manifest: bad size for ${JSON.stringify(path.slice(0, 256))}`);
  if (size > limits.blobBytes)
    throw invalid(
      `${JSON.stringify(path.slice(0, 256))} is ${formatBytes(size)}, more than this builder's limit of ${formatBytes(limits.blobBytes)} per file: exclude it with .dockerignore`,
    );
}

/** A counter of things running per key (builds per project, syncs), refusing past a maximum. */
export function createSlots(max: number, refusal: (key: string, max: number) => string) {
  const running = new Map<string, number>();
  return {
    /** Takes a slot or throws RESOURCE_EXHAUSTED; the returned function gives it back (once). */
    take(key: string): () => void {
      const n = running.get(key) ?? 0;
      if (n >= max) throw new RpcError(grpc.status.RESOURCE_EXHAUSTED, refusal(key, max));
      running.set(key, n + 1);
      let given = false;
      return () => {
        if (given) return;
        given = true;
        const left = (running.get(key) ?? 1) - 1;
        if (left <= 0) running.delete(key);
        else running.set(key, left);
      };
    },
  };
}
