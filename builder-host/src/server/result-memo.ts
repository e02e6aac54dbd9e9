import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';

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
}

/**
 * The image ids every FROM of a Dockerfile resolves to, or undefined when that cannot be known
 * without building (a FROM with a variable, or an image the engine does not have).
 */
export async function resolveBaseImages(
  dockerfile: string,
  resolve: (ref: string) => Promise<string | undefined>,
): Promise<string[] | undefined> {
  let froms: ReturnType<ReturnType<typeof DockerfileParser.parse>['getFROMs']>;
  try {
    froms = DockerfileParser.parse(dockerfile).getFROMs();
  } catch {
    return undefined;
  }
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

const sorted = (o: Record<string, string>) =>
  Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The memo key of a build: every input that decides its image, base image ids included. */
export function memoKey(inputs: MemoInputs, baseImages: string[]): string {
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
  });
  return createHash('sha256').update(material).digest('hex');
}

/**
 * Results of earlier builds by memo key: a build whose every input is unchanged reuses the image
 * instead of streaming the whole context to BuildKit again.
 */
export function createResultMemo(dir: string): {
  get(key: string): Promise<MemoEntry | undefined>;
  put(key: string, entry: MemoEntry): Promise<void>;
} {
  return {
    async get(key) {
      try {
        return JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as MemoEntry;
      } catch {
        return undefined;
      }
    },
    async put(key, entry) {
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${key}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(entry));
      await rename(tmp, file);
    },
  };
}
