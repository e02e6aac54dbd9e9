import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
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
  const froms = parse(dockerfile)?.getFROMs();
  if (!froms) return undefined;
  const stages = new Set<string>();
  const ids: string[] = [];
  for (const f of froms) {
    const image = f.getImage() ?? '';
    if (!image || image.includes('$')) return undefined;
    if (!stages.has(image.toLowerCase()) && image !== 'scratch') {
      const id = await resolve(image);
      if (!id) return undefined;
      ids.push(`${image}=${id}`);
    }
    const stage = f.getBuildStage();
    if (stage) stages.add(stage.toLowerCase());
  }
  return ids;
}

type ParsedDockerfile = ReturnType<typeof DockerfileParser.parse>;

function parse(dockerfile: string): ParsedDockerfile | undefined {
  try {
    return DockerfileParser.parse(dockerfile);
  } catch {
    return undefined;
  }
}

// A source ADD fetches itself: any URL (http, https, git://, ssh://) or scp-like git remote.
const REMOTE_SOURCE = /^(?:[a-z][a-z0-9+.-]*:\/\/|[^/\s]+@[^/\s]+:)/i;

/**
 * The inputs of a Dockerfile that come from outside the snapshot and the FROM images, one
 * description each ([] when there are none, ['unparsable dockerfile'] when it cannot be read).
 * The memo key covers only the snapshot, the Dockerfile text, the args and the FROM image ids:
 * what an `ADD <url>`, an `ADD <git remote>`, a `COPY --from=<image>`, a
 * `RUN --mount=from=<image>` or a `# syntax=` frontend resolves to can change while all of those
 * stay equal, so such a build is never answered from the memo (BuildKit itself decides, per step,
 * whether the remote content changed). A variable where a source or an image may stand could
 * expand to either, so it counts as remote too.
 */
export function remoteInputs(dockerfile: string): string[] {
  const df = parse(dockerfile);
  if (!df) return ['unparsable dockerfile'];
  const out: string[] = [];
  for (const d of df.getDirectives())
    if (d.getName().toLowerCase() === 'syntax') out.push(`# syntax=${d.getValue()}`);
  const froms = df.getFROMs();
  // BuildKit resolves `--from=<name>` against every stage of the file and `--from=<n>` by index.
  const stages = new Set(froms.map((f) => (f.getBuildStage() ?? '').toLowerCase()).filter(Boolean));
  const isStage = (from: string) =>
    stages.has(from.toLowerCase()) || (/^\d+$/.test(from) && Number(from) < froms.length);
  const fromImage = (from: string | null | undefined) =>
    from !== null && from !== undefined && (from.includes('$') || !isStage(from));
  for (const instr of df.getInstructions()) {
    const keyword = instr.getKeyword().toUpperCase();
    if (keyword !== 'ADD' && keyword !== 'COPY' && keyword !== 'RUN') continue;
    const modifiable = instr as unknown as {
      getFlags(): {
        getName(): string;
        getValue(): string | null;
        getOptions(): { getName(): string; getValue(): string | null }[];
      }[];
      getJSONStrings(): { getJSONValue(): string }[];
    };
    for (const flag of modifiable.getFlags()) {
      const name = flag.getName().toLowerCase();
      if (name === 'from' && keyword !== 'RUN' && fromImage(flag.getValue()))
        out.push(`${keyword} --from=${flag.getValue()}`);
      if (name === 'mount' && keyword === 'RUN')
        for (const o of flag.getOptions())
          if (o.getName().toLowerCase() === 'from' && fromImage(o.getValue()))
            out.push(`RUN --mount=from=${o.getValue()}`);
    }
    if (keyword === 'ADD') {
      const json = modifiable.getJSONStrings();
      const sources = (
        json.length > 0 ? json.map((a) => a.getJSONValue()) : instr.getArguments().map((a) => a.getValue())
      ).slice(0, -1);
      for (const src of sources) if (REMOTE_SOURCE.test(src) || src.includes('$')) out.push(`ADD ${src}`);
    }
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
