/**
 * A Dockerfile as stages of instructions (from the Dockerfile parser, parser.ts): what the
 * builder's cause finder (builder-host history) and the client's advisor both read, so both name
 * steps, match them to BuildKit's vertex names and judge ARG placement the same way.
 */
import { parseReference } from '../registry/reference.js';
import { declarations, flagsOf, fromParts, parseInstructions, variableNames } from './parser.js';

/** A stage's ARG declared above RUN steps that do not use it, before the first instruction that does. */
export interface ArgPlacement {
  name: string;
  /** 1-based line of the ARG instruction. */
  line: number;
  /** Index of the stage in the Dockerfile. */
  stage: number;
  /**
   * 1-based line of the first instruction of the stage that references it (`$NAME`, `${NAME}`);
   * 0 when none does (only a script a RUN starts could read it, from its environment).
   */
  firstUseLine: number;
  /**
   * The RUN steps between the two: a new value reruns each of them (BuildKit gives every RUN the
   * ARGs declared above it), and none would rerun with the ARG just above its first use.
   */
  runs: DfInstr[];
}

/** Every stage ARG that could move down to its first use and spare RUN steps a rerun. */
export function argPlacements(dockerfile: string | DfModel): ArgPlacement[] {
  const model = typeof dockerfile === 'string' ? parseDockerfile(dockerfile) : dockerfile;
  const out: ArgPlacement[] = [];
  for (const stage of model.stages) {
    const names = new Set(stage.instrs.flatMap((i, p) => (p > 0 ? i.args.map((a) => a.name) : [])));
    for (const name of names) {
      const decl = stage.instrs.findIndex((i, p) => p > 0 && i.args.some((a) => a.name === name));
      const firstUse = stage.instrs.findIndex((i, p) => p > decl && references(i.text, name));
      const until = firstUse < 0 ? stage.instrs.length : firstUse;
      const runs = stage.instrs.slice(decl + 1, until).filter((i) => i.keyword === 'RUN');
      if (runs.length === 0) continue;
      out.push({
        name,
        line: stage.instrs[decl]!.line,
        stage: stage.index,
        firstUseLine: firstUse < 0 ? 0 : stage.instrs[firstUse]!.line,
        runs,
      });
    }
  }
  return out;
}

/**
 * Whether moving `ARG <name>` down would keep the step `instruction` cached: some stage declares
 * the ARG, `instruction` is a RUN after it that does not reference it, and a later instruction of
 * that stage does reference it (`$NAME`, `${NAME}`), so the ARG could sit just above that one.
 * An ARG directly above the step that uses it, or used by no instruction by name, gives false.
 */
export function argMovableBelow(dockerfile: string, name: string, instruction: string): boolean {
  const wanted = normalizeVertexInstruction(instruction);
  return argPlacements(dockerfile).some(
    (p) => p.firstUseLine > 0 && p.name === name && p.runs.some((instr) => matchScore(instr, wanted) >= 3),
  );
}

/** Whether instruction text refers to variable `name` (`$NAME`, `${NAME}`, `${NAME:-x}`…). */
export function references(text: string, name: string): boolean {
  return new RegExp(`\\$(?:\\{${escapeRe(name)}(?=[}:%#/^,+-])|${escapeRe(name)}(?![A-Za-z0-9_]))`).test(
    text,
  );
}

/**
 * `FROM docker.io/library/busybox:latest` for `FROM busybox:latest AS x`, the way BuildKit names the
 * step: the image normalised, its tag only when written; undefined when the image is a variable or
 * not a reference.
 */
export function printedFrom(text: string): string | undefined {
  const { image } = fromParts(text.replace(/^FROM\s+/i, ''));
  if (!image || image.includes('$')) return undefined;
  try {
    const r = parseReference(image, { allowDigest: true });
    const explicitTag = image.length > r.repository.length && image[r.repository.length] === ':';
    return `FROM ${r.registry}/${r.path}${explicitTag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
  } catch {
    return undefined;
  }
}

export interface DfArg {
  name: string;
  /** undefined: declared without a default. */
  value: string | undefined;
}

export interface DfInstr {
  keyword: string;
  /** `KEYWORD args`, continuations joined, whitespace collapsed. */
  text: string;
  /** 1-based line of the keyword. */
  line: number;
  /** BuildKit's step number within the stage (FROM, RUN, COPY, ADD, WORKDIR), 0 for the others. */
  stepIndex: number;
  /** Variables referenced (`$X`, `${X}`). */
  vars: string[];
  /** ARG: the declared names. */
  args: DfArg[];
}

export interface DfStage {
  index: number;
  /** Lowercased `AS` name, '' when unnamed. */
  name: string;
  /** The FROM image as written (`${BASE}`, `node:20`, `build`). */
  image: string;
  /** The earlier stage it builds on (`FROM build`), -1 when its base is an image (or scratch). */
  baseStage: number;
  /** instrs[0] is the FROM. */
  instrs: DfInstr[];
}

/** How a stage reads another: `from` its base (`FROM build`), `copy` (`COPY/ADD --from=`), `mount` (`RUN --mount=from=`). */
export type DfEdgeKind = 'from' | 'copy' | 'mount';

/** One stage feeding another. */
export interface DfEdge {
  /** Index of the stage read. */
  from: number;
  /** Index of the stage that reads it. */
  to: number;
  kind: DfEdgeKind;
  /** 1-based line of the instruction that reads. */
  line: number;
  /** BuildKit's step number of that instruction in `to` (0 for `FROM <stage>`, which makes no step). */
  stepIndex: number;
}

export interface DfModel {
  /** ARGs before the first FROM, name -> default. */
  globalArgs: Map<string, string | undefined>;
  stages: DfStage[];
  /** Every stage-to-stage read, in Dockerfile order; a `--from` naming an image makes none. */
  edges: DfEdge[];
}

/** One stage of a StagePlan. */
export interface PlanStage {
  index: number;
  /** Lowercased `AS` name, '' when unnamed. */
  name: string;
  /** As BuildKit labels its steps (see stageLabel). */
  label: string;
  /** `FROM node:20` as written, without `AS …`. */
  from: string;
  /** The FROM step's name as BuildKit prints it (printedFrom); undefined for a stage, scratch or a variable. */
  printedFrom: string | undefined;
  /** The earlier stage it builds on, -1 when none. */
  baseStage: number;
}

/** What the views need of a Dockerfile: its stages and the edges between them. */
export interface StagePlan {
  stages: PlanStage[];
  edges: DfEdge[];
}

// A view asks for the plan of the same Dockerfile at every render: it is parsed once per text.
const plans = new Map<string, StagePlan>();

/** The stages and stage edges of a Dockerfile (parsed once per text, a few texts kept). */
export function stagePlan(dockerfile: string): StagePlan {
  let plan = plans.get(dockerfile);
  if (!plan) {
    const model = parseDockerfile(dockerfile);
    plan = {
      stages: model.stages.map((stage) => {
        const from = stage.instrs[0]?.text ?? '';
        return {
          index: stage.index,
          name: stage.name,
          label: stageLabel(model, stage),
          from: from.replace(/\s+AS\s+\S+\s*$/i, ''),
          printedFrom: stage.baseStage >= 0 ? undefined : printedFrom(from),
          baseStage: stage.baseStage,
        };
      }),
      edges: model.edges,
    };
    if (plans.size >= 4) plans.delete(plans.keys().next().value as string);
    plans.set(dockerfile, plan);
  }
  return plan;
}

/**
 * The stage's name as BuildKit prints it in vertex names (`[build 2/4] …`): its `AS` name, else
 * `stage-N` in a Dockerfile of several stages, else '' (`[2/4] …`).
 */
export function stageLabel(model: DfModel, stage: DfStage): string {
  if (stage.name) return stage.name;
  return model.stages.length > 1 ? `stage-${stage.index}` : '';
}

const STEP_KEYWORDS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

/** The stages, global ARGs and stage edges of a Dockerfile. */
export function parseDockerfile(text: string): DfModel {
  const model: DfModel = { globalArgs: new Map(), stages: [], edges: [] };
  const { instructions, escapeChar } = parseInstructions(text);
  let stage: DfStage | undefined;
  let steps = 0;
  for (const instruction of instructions) {
    const { keyword, rest } = instruction;
    // A heredoc's body is part of its step: an edit there changes the step.
    const body = [rest, ...instruction.heredocs.flatMap((h) => [h.body, h.name])]
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    const instr: DfInstr = {
      keyword,
      text: body ? `${keyword} ${body}` : keyword,
      line: instruction.line,
      stepIndex: 0,
      vars: variableNames(rest, escapeChar),
      args:
        keyword === 'ARG'
          ? declarations(keyword, rest, escapeChar).map(([name, value]) => ({ name, value }))
          : [],
    };
    if (keyword === 'FROM') {
      const { image, stage: name } = fromParts(rest);
      const baseStage = model.stages.findIndex((s) => s.name !== '' && s.name === image.toLowerCase());
      steps = 0;
      if (image.toLowerCase() !== 'scratch' && baseStage < 0) instr.stepIndex = ++steps;
      stage = { index: model.stages.length, name, image, baseStage, instrs: [instr] };
      model.stages.push(stage);
      continue;
    }
    if (!stage) {
      if (keyword === 'ARG') for (const a of instr.args) model.globalArgs.set(a.name, a.value);
      continue;
    }
    if (STEP_KEYWORDS.has(keyword)) instr.stepIndex = ++steps;
    stage.instrs.push(instr);
  }
  model.edges = stageEdges(model);
  return model;
}

/**
 * The stages each stage reads, as BuildKit resolves them: `FROM <earlier stage>`, and a `--from`
 * of COPY/ADD or of a RUN mount that names a stage (case-insensitively) or gives its index. A
 * `--from` with a variable, or naming an image, is no edge.
 */
function stageEdges(model: DfModel): DfEdge[] {
  const edges: DfEdge[] = [];
  const resolve = (ref: string, to: number): number => {
    const r = ref.trim().toLowerCase();
    if (r === '' || r.includes('$')) return -1;
    const named = model.stages.findIndex((s) => s.name !== '' && s.name === r);
    if (named >= 0) return named === to ? -1 : named;
    if (/^\d+$/.test(r) && Number(r) < to) return Number(r);
    return -1;
  };
  for (const stage of model.stages) {
    const fromInstr = stage.instrs[0];
    if (stage.baseStage >= 0 && fromInstr)
      edges.push({
        from: stage.baseStage,
        to: stage.index,
        kind: 'from',
        line: fromInstr.line,
        stepIndex: 0,
      });
    for (const instr of stage.instrs.slice(1)) {
      const refs: { ref: string; kind: DfEdgeKind }[] = [];
      const { flags } = flagsOf(instr.text.slice(instr.keyword.length).trimStart());
      for (const [name, value] of flags) {
        if (name === 'from' && (instr.keyword === 'COPY' || instr.keyword === 'ADD'))
          refs.push({ ref: value, kind: 'copy' });
        if (name === 'mount' && instr.keyword === 'RUN') {
          const from = value
            .split(',')
            .map((kv) => kv.split('='))
            .find(([k]) => k?.trim().toLowerCase() === 'from');
          if (from) refs.push({ ref: from.slice(1).join('='), kind: 'mount' });
        }
      }
      for (const { ref, kind } of refs) {
        const from = resolve(ref, stage.index);
        if (from < 0) continue;
        edges.push({ from, to: stage.index, kind, line: instr.line, stepIndex: instr.stepIndex });
      }
    }
  }
  return edges;
}

export function normalizeVertexInstruction(instruction: string): string {
  const one = instruction.replace(/\s+/g, ' ').trim();
  const m = /^(\S+)(.*)$/.exec(one);
  return m ? `${(m[1] ?? '').toUpperCase()}${m[2] ?? ''}` : one;
}

/**
 * 4: same text; 3: same text once variables are expanded (BuildKit expands ARG/ENV in names);
 * 2: same first line (heredocs); 1: FROM (BuildKit prints the normalized image ref); 0: no match.
 */
export function matchScore(instr: DfInstr, wanted: string): number {
  const keyword = wanted.split(' ', 1)[0] ?? '';
  if (keyword !== instr.keyword) return 0;
  if (instr.text === wanted) return 4;
  if (instr.text.includes('$') && variablePattern(instr.text).test(wanted)) return 3;
  const heredoc = /<<-?["']?[A-Za-z_]/.exec(instr.text);
  if (heredoc && wanted.startsWith(instr.text.slice(0, heredoc.index + heredoc[0].length))) return 2;
  if (keyword === 'FROM') return 1;
  return 0;
}

function variablePattern(text: string): RegExp {
  const parts = text.split(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/);
  return new RegExp(`^${parts.map(escapeRe).join('.*?')}$`, 's');
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
