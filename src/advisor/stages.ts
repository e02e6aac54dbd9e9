/** A Dockerfile's stages as the advisor walks them, and which of them a build of a target runs. */
import { printedFrom } from '../dockerfile/model.js';
import { flagsOf, fromParts, parseInstructions } from '../dockerfile/parser.js';

export interface Instr {
  keyword: string;
  /** The arguments as written (continuations joined). */
  rest: string;
  line: number;
  /** The step's name as the builder's history has it: `RUN npm ci`, `FROM docker.io/library/node:20`. */
  text: string;
}

export interface Stage {
  index: number;
  /** The lowercased `AS` name, '' when unnamed. */
  name: string;
  /** How findings name it: its name, else `stage-N` (BuildKit's label). */
  label: string;
  /** The FROM instruction. */
  from: Instr;
  /** The image word of the FROM (an earlier stage's name, scratch, a reference, a variable). */
  image: string;
  /** The instructions after the FROM. */
  body: Instr[];
}

/** `KEYWORD args` with whitespace collapsed: how BuildKit's vertex names read once normalised. */
export function stepText(keyword: string, rest: string): string {
  const text = `${keyword} ${rest}`.replace(/\s+/g, ' ').trim();
  return keyword === 'FROM' ? (printedFrom(text) ?? text) : text;
}

/** The stages of `dockerfile`, in order (instructions before the first FROM, global ARGs, are not in any). */
export function parseStages(dockerfile: string): Stage[] {
  const stages: Stage[] = [];
  for (const { keyword, rest, line } of parseInstructions(dockerfile).instructions) {
    const instr: Instr = { keyword, rest, line, text: stepText(keyword, rest) };
    if (keyword === 'FROM') {
      const { image, stage: name } = fromParts(rest);
      const index = stages.length;
      stages.push({
        index,
        name,
        label: name || `stage-${index}`,
        from: instr,
        image,
        body: [],
      });
    } else stages.at(-1)?.body.push(instr);
  }
  return stages;
}

/** The earlier stage `ref` names (an `AS` name or an index), if any. */
export function stageNamed(stages: readonly Stage[], ref: string, before: number): Stage | undefined {
  const lower = ref.toLowerCase();
  if (/^\d+$/.test(lower)) return Number(lower) < before ? stages[Number(lower)] : undefined;
  return stages.find((s) => s.index < before && s.name !== '' && s.name === lower);
}

/** The stages a stage reads from: its FROM, `COPY --from=`, `RUN --mount=…,from=`. */
function dependencies(stages: readonly Stage[], stage: Stage): Stage[] {
  const refs = [stage.image];
  for (const i of stage.body)
    for (const [flag, value] of flagsOf(i.rest).flags) {
      if (flag === 'from') refs.push(value);
      if (flag === 'mount') for (const m of value.matchAll(/(?:^|,)from=([^,]+)/g)) refs.push(m[1]!);
    }
  return refs.map((r) => stageNamed(stages, r, stage.index)).filter((s): s is Stage => s !== undefined);
}

/**
 * The indexes of the stages a build of `target` runs (the last stage without one): the target and
 * every stage it reads from, as BuildKit skips the rest. Undefined when no stage has that name.
 */
export function builtStages(stages: readonly Stage[], target?: string): Set<number> | undefined {
  const top = target ? stages.find((s) => s.name === target.toLowerCase()) : stages.at(-1);
  if (!top) return target ? undefined : new Set();
  const built = new Set<number>();
  const visit = (s: Stage) => {
    if (built.has(s.index)) return;
    built.add(s.index);
    for (const d of dependencies(stages, s)) visit(d);
  };
  visit(top);
  return built;
}
