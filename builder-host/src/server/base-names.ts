import {
  declarations,
  expandVariables,
  flagsOf,
  fromParts,
  type Instruction,
  parseInstructions,
  wordValue,
} from '../../../src/dockerfile/parser.js';

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
  const { instructions, escapeChar } = parseInstructions(dockerfile);
  const globalArgs = new Map<string, string>();
  const stages = new Set<string>();
  const mentions: Mention[] = [];
  let seenFrom = false;
  /** A name written at `at` of `ins.rest`: rewritable when written on one line as it reads. */
  const mention = (ins: Instruction, ref: string, raw: string, at: number) => {
    mentions.push({ ref, at: at >= 0 && raw === ref ? ins.sourceRange(at, at + raw.length) : undefined });
  };
  for (const ins of instructions) {
    const { keyword } = ins;
    if (keyword === 'ARG' && !seenFrom) {
      for (const [name, value] of declarations(keyword, ins.rest, escapeChar))
        if (value !== undefined) globalArgs.set(name, value);
    } else if (keyword === 'FROM') {
      seenFrom = true;
      const { image, imageAt, stage } = fromParts(ins.rest);
      // As BuildKit reads the name: quotes removed, escapes applied (variables come below).
      const ref = wordValue(image, escapeChar);
      if (ref && ref !== 'scratch' && !stages.has(ref.toLowerCase())) mention(ins, ref, image, imageAt);
      if (stage) stages.add(stage);
    } else if (keyword === 'COPY' || keyword === 'ADD' || keyword === 'RUN') {
      const { flags, valueAt } = flagsOf(ins.rest);
      for (const [k, [name, value]] of flags.entries()) {
        if (
          name === 'from' &&
          keyword !== 'RUN' &&
          value &&
          !/^\d+$/.test(value) &&
          !stages.has(value.toLowerCase())
        )
          mention(ins, value, value, valueAt[k]!);
        if (name === 'mount' && keyword === 'RUN')
          for (const opt of value.split(','))
            if (/^from=/i.test(opt)) {
              const from = opt.slice(5);
              if (from && !/^\d+$/.test(from) && !stages.has(from.toLowerCase()))
                mentions.push({ ref: from });
            }
      }
    }
  }
  // Variables in an image name: build args, then the ARGs before the first FROM.
  const expand = (text: string) =>
    expandVariables(text, (name) => rules.buildArgs[name] ?? globalArgs.get(name) ?? '').replace(
      /\\\$/g,
      '$',
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
