/**
 * Why a step missed the cache. BuildKit only says *that* a step ran; this compares the build with
 * the previous build of the same Dockerfile path and target (Dockerfile, build args, base images,
 * context snapshot diff) and names the first cause that explains the miss, in this order:
 * `--no-cache`; first build of that Dockerfile and target; the stage's base image (for a step that
 * builds on no missed step); the step's own inputs (its Dockerfile instruction, a build-arg in
 * effect for it, changed context files under its COPY/ADD); a missed step it builds on (a cascade:
 * the cause is that step's, marked `cascade`); evicted (the previous build ran a step with the same digest and nothing it depends on
 * changed); unknown.
 *
 * Pure: no I/O, no clock. Dockerfiles are read through the shared model (src/dockerfile/model.ts).
 */
import { createHash } from 'node:crypto';
import {
  type DfArg,
  type DfInstr,
  type DfModel,
  type DfStage,
  escapeRe,
  matchScore,
  normalizeVertexInstruction,
  parseDockerfile,
  printedFrom,
  stageLabel,
} from '../../../src/dockerfile/index.js';
import { copyInstructionSources, pathsCoveredBySources } from '../../../src/protocol/copy-sources.js';
import type { StepCauseKind } from './types.js';

export type { StepCauseKind };

/** The wire shape of depot.builder.v1.StepCause (camelCase, every field set). */
export interface StepCause {
  kind: StepCauseKind;
  /** changed_files: changed context paths under the step's sources, at most {@link MAX_PATHS}. */
  paths: string[];
  /** changed_files: how many more paths than `paths` lists. */
  morePaths: number;
  /** build_arg: the argument's name. */
  name: string;
  /** dockerfile_changed: 1-based line of the instruction in the new Dockerfile (0 if unknown). */
  line: number;
  /** base_image: the new image id/digest. */
  digest: string;
  /** One human line. */
  text: string;
  /** Set on a cascade: the step missed only because a step it builds on did (not on the wire). */
  cascade?: boolean;
}

/** What the previous build of the same project looked like. */
export interface PreviousBuild {
  /**
   * undefined when its text was not kept: then the Dockerfile is assumed unchanged (no
   * dockerfile_changed; build args and base images are compared against the new one).
   */
  dockerfile: string | undefined;
  /** The values, or (when `buildArgsHashed`) their fingerprints: see buildArgFingerprint. */
  buildArgs: Record<string, string>;
  buildArgsHashed?: boolean;
  baseImages: Record<string, string>;
  steps: { digest: string; name: string; cached: boolean }[];
}

/** The fingerprint history keeps of a build-arg value unless told to keep values in plain text. */
export function buildArgFingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

/**
 * The previous build's args as values where they can be known: a fingerprint that matches the
 * current value stands for that value; any other stands for a value that is not the current one.
 */
function previousArgValues(previous: PreviousBuild, now: Record<string, string>): Record<string, string> {
  if (!previous.buildArgsHashed) return previous.buildArgs;
  const out: Record<string, string> = {};
  for (const [name, fp] of Object.entries(previous.buildArgs))
    out[name] =
      Object.hasOwn(now, name) && buildArgFingerprint(now[name]!) === fp ? now[name]! : `\0changed:${fp}`;
  return out;
}

export interface ExplainInput {
  project: string;
  /** The Dockerfile's path in the context ('' when sent on its own) and the target ('' for the last stage). */
  dockerfilePath?: string;
  target?: string;
  noCache: boolean;
  /** undefined on the first build of this Dockerfile path and target */
  previous: PreviousBuild | undefined;
  /** The context snapshot's diff from the project's previous snapshot (context-relative paths). */
  snapshotDiff: { added: string[]; changed: string[]; removed: string[] };
  /** The Dockerfile text of this build. */
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** FROM ref -> image id, this build. */
  baseImages: Record<string, string>;
  step: {
    digest: string;
    /** The BuildKit vertex name, e.g. `[build 3/4] COPY src/ ./src`. */
    name: string;
    /** The previous build ran a step with the same digest (cached or built). */
    everCached: boolean;
  };
  /**
   * The first step whose own inputs changed among the missed steps this one builds on, with its
   * own cause. Used only when nothing about this step itself explains the miss: the result is that
   * cause, marked `cascade`, with the text "follows from <that step>: …".
   */
  earlierCause?: { name: string; cause: StepCause } | undefined;
}

export interface StepExplainer {
  explain(input: ExplainInput): StepCause;
}

/** How many changed paths a changed_files cause lists. */
export const MAX_PATHS = 10;

/** Explains one missed step. */
export function explainStep(input: ExplainInput): StepCause {
  return explainWith(input, parseDockerfile);
}

/**
 * An explainer that parses each distinct Dockerfile text once (a build asks about many steps of
 * the same two Dockerfiles). Same results as {@link explainStep}.
 */
export function createStepExplainer(): StepExplainer {
  const cache = new Map<string, DfModel>();
  const parse = (text: string): DfModel => {
    let model = cache.get(text);
    if (!model) {
      model = parseDockerfile(text);
      if (cache.size >= 8) cache.delete(cache.keys().next().value as string);
      cache.set(text, model);
    }
    return model;
  };
  return { explain: (input) => explainWith(input, parse) };
}

function explainWith(input: ExplainInput, parse: (text: string) => DfModel): StepCause {
  if (input.noCache) return cause('no_cache', { text: '--no-cache' });
  const previous = input.previous;
  if (!previous) return cause('first_build', { text: `first build of ${lineText(input)}` });

  const vertex = parseName(input.step.name);
  const model = parse(input.dockerfile);
  const prevModel = previous.dockerfile === undefined ? model : parse(previous.dockerfile);
  const at = locate(model, vertex);
  const prevStage = at ? correspondingStage(prevModel, at.stage) : undefined;

  // A changed base image is the root cause only of the first missed steps of its stage: the steps
  // after them follow from those (a cascade).
  const base =
    at && !input.earlierCause
      ? baseImageChange(model, at.stage, input, prevModel, prevStage, previous)
      : undefined;
  if (base) return base;
  if (at) {
    const edited =
      previous.dockerfile === undefined ? undefined : dockerfileChange(at.stage, at.pos, prevStage);
    if (edited) return edited;
    const arg = buildArgChange(model, at.stage, at.pos, input.buildArgs, prevModel, prevStage, previous);
    if (arg) return arg;
  }

  const files = changedFiles(vertex.instruction, input.snapshotDiff);
  if (files) return files;

  if (input.earlierCause) {
    const { name, cause: earlier } = input.earlierCause;
    return {
      ...earlier,
      paths: [...earlier.paths],
      text: `${cascadePrefix(name)}${earlier.text}`,
      cascade: true,
    };
  }

  if (/^FROM\s/i.test(vertex.instruction)) {
    // The builder reports a FROM whose image it had as cached: an uncached one was fetched.
    const ref = vertex.instruction.split(/\s+/)[1] ?? '';
    return cause('base_image', { text: `base image ${ref} was not in the builder's engine: fetched` });
  }
  if (input.step.everCached) {
    return cause('evicted', {
      text: 'evicted: the previous build ran this step with the same inputs, and it is no longer cached',
    });
  }
  return cause('unknown', { text: 'cause unknown: no change found in its inputs' });
}

/**
 * How the cause text of a miss that followed the step named `name` (a vertex name) begins: how a
 * reader of the history finds which root a cascaded miss came from.
 */
export function cascadePrefix(name: string): string {
  return `follows from ${short(parseName(name).instruction)}: `;
}

/** `Dockerfile`, `docker/app.Dockerfile (target app)`, for first-build texts. */
function lineText(input: ExplainInput): string {
  const path =
    input.dockerfilePath === undefined
      ? `project ${input.project}`
      : input.dockerfilePath || 'the Dockerfile sent without a context path';
  return input.target ? `${path} (target ${input.target})` : path;
}

function cause(kind: StepCauseKind, fields: Partial<Omit<StepCause, 'kind'>>): StepCause {
  return { kind, paths: [], morePaths: 0, name: '', line: 0, digest: '', text: '', ...fields };
}

// ---------------------------------------------------------------------------------------------
// Rules

function baseImageChange(
  model: DfModel,
  stage: DfStage,
  input: ExplainInput,
  prevModel: DfModel,
  prevStage: DfStage | undefined,
  previous: PreviousBuild,
): StepCause | undefined {
  const now = resolveBase(model, stage, input.buildArgs);
  if (!now) return undefined;
  const id = lookupImage(input.baseImages, now);
  if (!id) return undefined;
  const before = prevStage
    ? resolveBase(prevModel, prevStage, previousArgValues(previous, input.buildArgs))
    : undefined;
  const prevId = before ? lookupImage(previous.baseImages, before) : undefined;
  // Without the previous id only a different ref says the base changed (the old record may simply lack ids).
  const changed =
    prevId !== undefined ? prevId !== id : before !== undefined && normalizeRef(before) !== normalizeRef(now);
  if (!changed) return undefined;
  return cause('base_image', { digest: id, text: `base image ${now} changed to ${shortDigest(id)}` });
}

/** Instructions that make no vertex but change how a later RUN runs. */
const RUN_STATE = new Set(['ENV', 'ARG', 'USER', 'SHELL']);

/**
 * The step's own instruction changed or is new, compared with the previous Dockerfile's same stage
 * (aligned by longest common subsequence, so an insertion above does not shift everything below);
 * also a FROM that is no step of its own (`FROM <stage>`, scratch), and for a RUN an ENV, ARG, USER
 * or SHELL above it in the stage: those make no vertex but change how every later RUN runs.
 */
function dockerfileChange(
  stage: DfStage,
  pos: number,
  prevStage: DfStage | undefined,
): StepCause | undefined {
  const unchanged = prevStage ? alignedPositions(stage.instrs, prevStage.instrs) : new Set<number>();
  const self = stage.instrs[pos];
  if (!self) return undefined;
  for (let p = 0; p <= pos; p++) {
    const instr = stage.instrs[p];
    if (!instr || unchanged.has(p)) continue;
    const relevant =
      p === pos ||
      (p === 0 && instr.stepIndex === 0) ||
      (self.keyword === 'RUN' && RUN_STATE.has(instr.keyword));
    if (!relevant) continue;
    return cause('dockerfile_changed', { line: instr.line, text: `Dockerfile line ${instr.line} changed` });
  }
  return undefined;
}

function buildArgChange(
  model: DfModel,
  stage: DfStage,
  pos: number,
  buildArgs: Record<string, string>,
  prevModel: DfModel,
  prevStage: DfStage | undefined,
  previous: PreviousBuild,
): StepCause | undefined {
  // Hashed history: a previous value is known only as far as its fingerprint matches the current one.
  const prevArgs = previousArgValues(previous, buildArgs);
  const changed = (name: string, declared: DfArg | undefined): boolean => {
    const now = argValue(model, name, declared, buildArgs);
    const prevDecl = prevStage ? findArg(prevStage, name) : undefined;
    const before =
      prevStage && (declared === undefined || prevDecl)
        ? argValue(prevModel, name, prevDecl, prevArgs)
        : undefined;
    return now !== before;
  };
  const from = stage.instrs[0];
  // A global ARG in the stage's FROM (when the base image id could not tell).
  for (const name of from?.vars ?? []) {
    if (model.globalArgs.has(name) && changed(name, undefined)) return argCause(name);
  }
  for (let a = 1; a < pos; a++) {
    const instr = stage.instrs[a];
    for (const decl of instr?.args ?? []) {
      if (!usedBetween(stage, decl.name, a + 1, pos)) continue;
      if (changed(decl.name, decl)) return argCause(decl.name);
    }
  }
  return undefined;
}

function argCause(name: string): StepCause {
  return cause('build_arg', { name, text: `build-arg ${name} changed` });
}

/** Whether an ARG is in effect for an instruction in [from, to]: any RUN, or a `$X`/`${X}` reference. */
function usedBetween(stage: DfStage, name: string, from: number, to: number): boolean {
  const ref = new RegExp(`\\$(?:\\{${escapeRe(name)}(?=[}:%#/^,+-])|${escapeRe(name)}(?![A-Za-z0-9_]))`);
  for (let p = from; p <= to; p++) {
    const instr = stage.instrs[p];
    if (!instr) continue;
    if (instr.keyword === 'RUN' || ref.test(instr.text)) return true;
  }
  return false;
}

function changedFiles(instruction: string, diff: ExplainInput['snapshotDiff']): StepCause | undefined {
  const sources = copyInstructionSources(instruction);
  if (!sources) return undefined;
  const all = [...new Set([...diff.changed, ...diff.added, ...diff.removed])].sort();
  const hit = pathsCoveredBySources(sources, all);
  if (hit.length === 0) return undefined;
  const verb = hit.every((p) => diff.added.includes(p) && !diff.changed.includes(p))
    ? 'added'
    : hit.every((p) => diff.removed.includes(p) && !diff.changed.includes(p))
      ? 'removed'
      : 'changed';
  const first = hit[0] ?? '';
  const who = hit.length === 1 ? first : `${first} and ${hit.length - 1} more`;
  return cause('changed_files', {
    paths: hit.slice(0, MAX_PATHS),
    morePaths: Math.max(0, hit.length - MAX_PATHS),
    text: `${who} ${verb} under ${short(instruction)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Vertex names

interface VertexName {
  /** Lowercased stage name (`build`, `stage-1`), '' when BuildKit printed none. */
  stage: string;
  /** BuildKit's N of `N/M`, 0 when absent. */
  stepIndex: number;
  /** The instruction, keyword first (`COPY src/ ./src`). */
  instruction: string;
}

const BRACKET = /^\[([^\]]*)\]\s?(.*)$/s;
const STEP_REF = /^(?:(.*?)\s+)?(\d+)\/(\d+)$/;
/** The platform BuildKit puts before the stage of a multi-platform build (`linux/arm64`). */
const PLATFORM_WORD = /^[a-z0-9]+\/[a-z0-9_/.-]+$/i;

/** `[build 3/4] RUN make`, `[linux/arm64 stage-1 2/3] COPY . .`, `[ 2/12] RUN x`, or a bare name. */
function parseName(name: string): VertexName {
  const out: VertexName = { stage: '', stepIndex: 0, instruction: name.trim() };
  const m = BRACKET.exec(name.trim());
  if (!m) return out;
  out.instruction = (m[2] ?? '').trim().replace(/^(?:ONBUILD\s+|LINK\s+)+/i, '');
  const ref = STEP_REF.exec((m[1] ?? '').trim());
  if (!ref) return out;
  out.stepIndex = Number(ref[2]);
  const words = (ref[1] ?? '').split(/\s+/).filter(Boolean);
  if (words.length > 0 && PLATFORM_WORD.test(words[0] ?? '')) words.shift();
  out.stage = words.join(' ').toLowerCase();
  return out;
}

/**
 * A vertex's name as this build's Dockerfile would have it.
 *
 * BuildKit runs one vertex for identical work of builds that are active at the same time on one
 * engine, and names it after the build that loaded it first: a build's `FROM` can arrive as
 * `[1/4] FROM …`, labelled by another build's Dockerfile, while this one has two steps. A name
 * whose stage and `n/m` fit this Dockerfile is kept as it is; a foreign one gets the label of the
 * step it stands for (found by its instruction, as causes are); a name that matches no step, or
 * carries ONBUILD triggers (the base image adds steps this Dockerfile does not show), is kept.
 */
export function createStepLabeler(dockerfile: string): (name: string) => string {
  const model = parseDockerfile(dockerfile);
  const totals = model.stages.map((s) => s.instrs.reduce((n, i) => Math.max(n, i.stepIndex), 0));
  const labelOf = (s: DfStage) => stageLabel(model, s);
  return (name) => {
    const m = BRACKET.exec(name.trim());
    const ref = m ? STEP_REF.exec((m[1] ?? '').trim()) : null;
    if (!m || !ref || model.stages.length === 0 || /^(?:ONBUILD|LINK)\s/i.test(m[2] ?? '')) return name;
    const v = parseName(name);
    const total = Number(ref[3]);
    const wanted = normalizeVertexInstruction(v.instruction);
    const fitting = model.stages.find(
      (s) =>
        labelOf(s) === v.stage &&
        totals[s.index] === total &&
        s.instrs.some((i) => i.stepIndex === v.stepIndex && matchScore(i, wanted) > 0),
    );
    // A FROM shared with another build also carries that build's spelling of the image
    // (`busybox` vs `busybox:latest`): it gets this Dockerfile's, as BuildKit prints it.
    const fromText = (i: DfInstr | undefined) => (i?.keyword === 'FROM' ? printedFrom(i.text) : undefined);
    if (fitting) {
      const text = fromText(fitting.instrs.find((i) => i.stepIndex === v.stepIndex));
      return text && text !== wanted ? `[${(m[1] ?? '').trim()}] ${text}` : name;
    }
    const at = locate(model, { ...v, stage: '' });
    const instr = at?.stage.instrs[at.pos];
    if (!at || !instr?.stepIndex || matchScore(instr, wanted) === 0) return name;
    const first = (ref[1] ?? '').split(/\s+/).find(Boolean) ?? '';
    const platform = PLATFORM_WORD.test(first) ? first : '';
    const label = [platform, labelOf(at.stage), `${instr.stepIndex}/${totals[at.stage.index]}`]
      .filter(Boolean)
      .join(' ');
    return `[${label}] ${fromText(instr) ?? (m[2] ?? '').trim()}`;
  };
}

function short(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

function shortDigest(id: string): string {
  const m = /^([a-z0-9]+:)?([0-9a-f]{13,})$/i.exec(id);
  return m ? `${m[1] ?? ''}${(m[2] ?? '').slice(0, 12)}…` : id;
}

function findArg(stage: DfStage, name: string): DfArg | undefined {
  for (const instr of stage.instrs) {
    const decl = instr.args.find((a) => a.name === name);
    if (decl) return decl;
  }
  return undefined;
}

/**
 * An ARG's value as BuildKit sees it: the build-arg when given, else the stage declaration's
 * default, else (declared without a default, or used in FROM) the global ARG's default.
 */
function argValue(
  model: DfModel,
  name: string,
  declared: DfArg | undefined,
  buildArgs: Record<string, string>,
): string | undefined {
  if (Object.hasOwn(buildArgs, name)) return buildArgs[name];
  if (declared?.value !== undefined) return declared.value;
  return model.globalArgs.get(name);
}

// ---------------------------------------------------------------------------------------------
// Matching a vertex to its instruction

/** Where a vertex's instruction is in the Dockerfile: its stage and position in `stage.instrs`. */
function locate(model: DfModel, vertex: VertexName): { stage: DfStage; pos: number } | undefined {
  let candidates = model.stages;
  if (vertex.stage) {
    const named =
      model.stages.find((s) => s.name === vertex.stage) ??
      (/^stage-(\d+)$/.exec(vertex.stage) ? model.stages[Number(vertex.stage.slice(6))] : undefined);
    if (named) candidates = [named];
  }
  // Prefer the last stage (the default target) when BuildKit printed no stage.
  candidates = [...candidates].reverse();
  const wanted = normalizeVertexInstruction(vertex.instruction);
  let best: { stage: DfStage; pos: number; score: number } | undefined;
  for (const stage of candidates) {
    for (const [pos, instr] of stage.instrs.entries()) {
      const score = matchScore(instr, wanted);
      if (score === 0) continue;
      const total = score * 2 + (vertex.stepIndex > 0 && instr.stepIndex === vertex.stepIndex ? 1 : 0);
      if (!best || total > best.score) best = { stage, pos, score: total };
    }
  }
  if (best) return { stage: best.stage, pos: best.pos };
  if (vertex.stepIndex > 0) {
    for (const stage of candidates) {
      const pos = stage.instrs.findIndex((i) => i.stepIndex === vertex.stepIndex);
      if (pos >= 0) return { stage, pos };
    }
  }
  return undefined;
}

/** The previous Dockerfile's stage that corresponds to `stage`: same name, else same index. */
function correspondingStage(prev: DfModel, stage: DfStage): DfStage | undefined {
  if (stage.name) {
    const named = prev.stages.find((s) => s.name === stage.name);
    if (named) return named;
  }
  const same = prev.stages[stage.index];
  return same && (same.name === '' || stage.name === '' || same.name === stage.name) ? same : undefined;
}

/** Positions of `now` whose instruction is part of a longest common subsequence with `before`. */
function alignedPositions(now: DfInstr[], before: DfInstr[]): Set<number> {
  const n = now.length;
  const m = before.length;
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = dp[i] as number[];
      row[j] =
        now[i]?.text === before[j]?.text
          ? (dp[i + 1]?.[j + 1] ?? 0) + 1
          : Math.max(dp[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out = new Set<number>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (now[i]?.text === before[j]?.text) {
      out.add(i);
      i++;
      j++;
    } else if ((dp[i + 1]?.[j] ?? 0) >= (dp[i]?.[j + 1] ?? 0)) i++;
    else j++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Base images

/**
 * The external image a stage builds on, following `FROM <earlier stage>` and expanding global
 * ARGs; undefined for scratch or when it cannot be resolved.
 */
function resolveBase(model: DfModel, stage: DfStage, buildArgs: Record<string, string>): string | undefined {
  let current: DfStage | undefined = stage;
  for (let hops = 0; current && hops <= model.stages.length; hops++) {
    const image = expandVars(current.image, (name) => argValue(model, name, undefined, buildArgs)).trim();
    if (!image || image.toLowerCase() === 'scratch') return undefined;
    const at: number = current.index;
    const parent: DfStage | undefined = model.stages.find(
      (s) => s.index < at && s.name !== '' && s.name === image.toLowerCase(),
    );
    if (!parent) return image;
    current = parent;
  }
  return undefined;
}

function lookupImage(images: Record<string, string>, ref: string): string | undefined {
  if (Object.hasOwn(images, ref)) return images[ref];
  const want = normalizeRef(ref);
  for (const [key, id] of Object.entries(images)) if (normalizeRef(key) === want) return id;
  return undefined;
}

/** `busybox` == `docker.io/library/busybox:latest`. */
function normalizeRef(ref: string): string {
  let r = ref
    .trim()
    .toLowerCase()
    .replace(/^(?:index\.)?docker\.io\//, '');
  if (!r.includes('/')) r = `library/${r}`;
  const last = r.slice(r.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) r += ':latest';
  return r;
}

/** `$X`, `${X}`, `${X:-default}`, `${X-default}`, `${X:+alt}`, `${X+alt}`. */
function expandVars(text: string, get: (name: string) => string | undefined): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      _all,
      braced: string | undefined,
      op: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      const value = get(braced ?? bare ?? '');
      if (!op) return value ?? '';
      const empty = value === undefined || (op.startsWith(':') && value === '');
      return op.endsWith('-') ? (empty ? (word ?? '') : (value ?? '')) : empty ? '' : (word ?? '');
    },
  );
}
