import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REMOTE_SOURCE } from '../../../src/dockerfile/context-reads.js';
import { copyWords, flagsOf, fromParts, parseInstructions } from '../../../src/dockerfile/parser.js';
import { writeFileDurably } from '../../../src/durable-file/index.js';

/** A vertex as recorded from a successful build, replayed (as cached) when the result is reused. */
export interface MemoVertex {
  digest: string;
  name: string;
  inputs: string[];
}

export interface MemoEntry {
  imageId: string;
  vertices: MemoVertex[];
  builtAt: string;
}

/** What a build's result depends on, besides the engine's own cache. */
export interface MemoInputs {
  /** A result is reused only by the project that built it. */
  project: string;
  snapshotId: string;
  dockerfile: Buffer;
  dockerfilePath: string;
  buildArgs: Record<string, string>;
  target: string;
  platform: string;
  labels: Record<string, string>;
  /** engineOptionsKey() of the build's engine flags ('' or absent: none). */
  engine?: string;
}

/**
 * The image ids every FROM of a Dockerfile resolves to, or undefined when that cannot be known
 * without building (a FROM with a variable, or an image the engine does not have).
 */
export async function resolveBaseImages(
  dockerfile: string,
  resolve: (ref: string) => Promise<string | undefined>,
): Promise<string[] | undefined> {
  const stages = new Set<string>();
  const ids: string[] = [];
  for (const ins of parseInstructions(dockerfile).instructions) {
    if (ins.keyword !== 'FROM') continue;
    const { image, stage } = fromParts(ins.rest);
    if (!image || image.includes('$')) return undefined;
    if (!stages.has(image.toLowerCase()) && image !== 'scratch') {
      const id = await resolve(image);
      if (!id) return undefined;
      ids.push(`${image}=${id}`);
    }
    if (stage) stages.add(stage);
  }
  return ids;
}

/**
 * The inputs of a Dockerfile that come from outside the snapshot and the FROM images, one
 * description each ([] when there are none).
 * The memo key covers only the snapshot, the Dockerfile text, the args and the FROM image ids:
 * what an `ADD <url>`, an `ADD <git remote>`, a `COPY --from=<image>`, a
 * `RUN --mount=from=<image>` or a `# syntax=` frontend resolves to can change while all of those
 * stay equal, so such a build is never answered from the memo (BuildKit itself decides, per step,
 * whether the remote content changed). A variable where a source or an image may stand could
 * expand to either, so it counts as remote too.
 */
export function remoteInputs(dockerfile: string): string[] {
  const { instructions, syntax } = parseInstructions(dockerfile);
  const out: string[] = [];
  if (syntax) out.push(`# syntax=${syntax}`);
  const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => fromParts(i.rest));
  // BuildKit resolves `--from=<name>` against every stage of the file and `--from=<n>` by index.
  const stages = new Set(froms.map((f) => f.stage).filter(Boolean));
  const isStage = (from: string) =>
    stages.has(from.toLowerCase()) || (/^\d+$/.test(from) && Number(from) < froms.length);
  const fromImage = (from: string) => from.includes('$') || !isStage(from);
  for (const { keyword, rest } of instructions) {
    if (keyword !== 'ADD' && keyword !== 'COPY' && keyword !== 'RUN') continue;
    const { flags, args } = flagsOf(rest);
    for (const [name, value] of flags) {
      if (name === 'from' && keyword !== 'RUN' && fromImage(value)) out.push(`${keyword} --from=${value}`);
      if (name === 'mount' && keyword === 'RUN')
        for (const o of value.split(',')) {
          const eq = o.indexOf('=');
          if (eq > 0 && o.slice(0, eq).trim().toLowerCase() === 'from' && fromImage(o.slice(eq + 1)))
            out.push(`RUN --mount=from=${o.slice(eq + 1)}`);
        }
    }
    if (keyword === 'ADD')
      for (const src of copyWords(args).slice(0, -1))
        if (REMOTE_SOURCE.test(src) || src.includes('$')) out.push(`ADD ${src}`);
  }
  return out;
}

const sorted = (o: Record<string, string>) =>
  Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The memo key of a build: every input that decides its image, base image ids included; undefined
 * when its Dockerfile has inputs the key cannot cover (see remoteInputs), so it is never reused.
 */
export function memoKey(inputs: MemoInputs, baseImages: string[]): string | undefined {
  if (remoteInputs(inputs.dockerfile.toString('utf8')).length > 0) return undefined;
  const material = JSON.stringify({
    v: 2,
    project: inputs.project,
    snapshot: inputs.snapshotId,
    dockerfile: createHash('sha256').update(inputs.dockerfile).digest('hex'),
    dockerfilePath: inputs.dockerfilePath,
    args: sorted(inputs.buildArgs),
    target: inputs.target,
    platform: inputs.platform,
    labels: sorted(inputs.labels),
    bases: baseImages,
    // Builds with docker's engine flags (network, hosts, cache sources…) are keyed by them too.
    ...(inputs.engine ? { engine: inputs.engine } : {}),
  });
  return createHash('sha256').update(material).digest('hex');
}

/**
 * Results of earlier builds by memo key: a build whose every input is unchanged reuses the image
 * instead of streaming the whole context to BuildKit again.
 */
export function createResultMemo(dir: string): {
  /** The entry under `key`; undefined when there is none or no key (a build that is never reused). */
  get(key: string | undefined): Promise<MemoEntry | undefined>;
  put(key: string, entry: MemoEntry): Promise<void>;
} {
  return {
    async get(key) {
      if (key === undefined) return undefined;
      try {
        return JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as MemoEntry;
      } catch {
        return undefined;
      }
    },
    async put(key, entry) {
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${key}.json`);
      // A memo of results the engine still has: atomic, but not worth an fsync.
      await writeFileDurably(file, JSON.stringify(entry), { fsync: false });
    },
  };
}
