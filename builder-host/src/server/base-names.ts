import { DockerfileParser } from 'dockerfile-ast';

/** A Dockerfile names an image the build may not use; code 'image_not_allowed'. */
export class ImageNameError extends Error {
  readonly code = 'image_not_allowed';
}

export interface ImageNameRules {
  /** True for names in the builder's own namespace: no Dockerfile may spell them out. */
  isInternal(ref: string): boolean;
  /** The engine's name of the project's own image `ref`, when the engine has it. */
  ownImage(ref: string): Promise<string | undefined>;
  /** Build args of this build (a FROM may name its image through an ARG). */
  buildArgs: Record<string, string>;
}

interface Mention {
  ref: string;
  /** Where the name is written, for the rewrite; undefined when it cannot be rewritten. */
  at?: { line: number; start: number; end: number };
}

/**
 * The Dockerfile the engine gets: names of images the project built itself (`FROM app:base` after a
 * `depot build -t app:base`) become their names in the project's namespace, so the engine finds
 * them, as `docker build` finds local images. A name in the builder's namespace written out (or
 * reached through a build arg) is refused. Everything else is left to the engine: a registry image,
 * or an image the operator keeps in the engine for every project.
 */
export async function resolveImageNames(dockerfile: string, rules: ImageNameRules): Promise<string> {
  let df: ReturnType<typeof DockerfileParser.parse>;
  try {
    df = DockerfileParser.parse(dockerfile);
  } catch {
    return dockerfile;
  }
  const globalArgs = new Map<string, string>();
  const stages = new Set<string>();
  const mentions: Mention[] = [];
  let seenFrom = false;
  for (const instruction of df.getInstructions()) {
    const keyword = instruction.getKeyword().toUpperCase();
    if (keyword === 'ARG' && !seenFrom) {
      for (const a of (instruction as unknown as { getProperties(): ArgProperty[] }).getProperties()) {
        const name = a.getName();
        const value = a.getValue();
        if (name && value !== null) globalArgs.set(name, value);
      }
    } else if (keyword === 'FROM') {
      seenFrom = true;
      const from = instruction as unknown as FromLike;
      const image = from.getImage() ?? '';
      const range = from.getImageRange();
      if (image && image !== 'scratch' && !stages.has(image.toLowerCase()))
        mentions.push({
          ref: image,
          at:
            range && range.start.line === range.end.line
              ? { line: range.start.line, start: range.start.character, end: range.end.character }
              : undefined,
        });
      const stage = from.getBuildStage();
      if (stage) stages.add(stage.toLowerCase());
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      const flag = (instruction as unknown as { getFromFlag?(): FlagLike | null }).getFromFlag?.();
      const value = flag?.getValue() ?? '';
      const range = flag?.getValueRange();
      if (value && !/^\d+$/.test(value) && !stages.has(value.toLowerCase()))
        mentions.push({
          ref: value,
          at:
            range && range.start.line === range.end.line
              ? { line: range.start.line, start: range.start.character, end: range.end.character }
              : undefined,
        });
    } else if (keyword === 'RUN') {
      for (const m of instruction.getTextContent().matchAll(/--mount=(\S+)/g))
        for (const opt of (m[1] ?? '').split(','))
          if (/^from=/i.test(opt)) {
            const value = opt.slice(5);
            if (value && !/^\d+$/.test(value) && !stages.has(value.toLowerCase()))
              mentions.push({ ref: value });
          }
    }
  }
  const expand = (text: string) =>
    text.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (_all, a, b) => {
        const name = (a ?? b) as string;
        return rules.buildArgs[name] ?? globalArgs.get(name) ?? '';
      },
    );
  const edits: Array<{ line: number; start: number; end: number; text: string }> = [];
  for (const m of mentions) {
    const ref = m.ref.includes('$') ? expand(m.ref) : m.ref;
    if (rules.isInternal(ref) || rules.isInternal(m.ref))
      throw new ImageNameError(
        `the Dockerfile names ${JSON.stringify(ref)}, an image name of the builder's own: name the image as you tagged it (-t)`,
      );
    if (m.ref.includes('$') || !m.at) continue;
    const own = await rules.ownImage(ref);
    if (own) edits.push({ ...m.at, text: own });
  }
  if (edits.length === 0) return dockerfile;
  const lines = dockerfile.split('\n');
  // Right to left within a line, so earlier ranges stay valid.
  edits.sort((a, b) => b.line - a.line || b.start - a.start);
  for (const e of edits) {
    const line = lines[e.line] ?? '';
    lines[e.line] = line.slice(0, e.start) + e.text + line.slice(e.end);
  }
  return lines.join('\n');
}

interface ArgProperty {
  getName(): string;
  getValue(): string | null;
}
interface Pos {
  line: number;
  character: number;
}
interface RangeLike {
  start: Pos;
  end: Pos;
}
interface FromLike {
  getImage(): string | null;
  getImageRange(): RangeLike | null;
  getBuildStage(): string | null;
}
interface FlagLike {
  getValue(): string | null;
  getValueRange(): RangeLike | null;
}
