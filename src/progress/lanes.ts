/**
 * The build as the Dockerfile's stages: one lane per stage with its base and its steps, the edges
 * between stages, BuildKit's own vertices folded into a group before the steps and one after,
 * and the root cause each cascaded miss followed. A pure function of BuildState and the stage plan
 * of its Dockerfile: the Ink views (`depot build`, `depot dev`, a replay) lay it out, other views
 * may read it too.
 *
 * The plan (stages and edges) comes from the Dockerfile of `build/defined`, parsed by the one
 * parser (src/dockerfile `stagePlan`, which the caller passes in, so that progress never loads
 * the parser itself); vertices are matched to stages by the `[stage N/M]` prefix BuildKit gives
 * their names. Without a plan (an older stream) the lanes come from those prefixes alone and the
 * edges from vertex inputs that cross stages.
 */
import type { DfEdgeKind, StagePlan } from '../dockerfile/index.js';
import { causeRoot, isCascade } from './cause.js';
import type { StepCauseInfo } from './events.js';
import { type BuildState, type StepPhase, type StepState, stepPhase } from './state.js';

/** BuildKit's own vertices on one side of the Dockerfile's steps. */
export interface InternalGroup {
  /** in order of first appearance */
  steps: StepState[];
  /** `waiting` when empty */
  phase: StepPhase;
  /** first start, 0 when none started */
  startedMs: number;
  /** last completion once every one finished, else 0 */
  completedMs: number;
  /** bytes of the Dockerfile the engine read (`transferring dockerfile:`), 0 when not reported */
  dockerfileBytes: number;
  /** bytes of the build context the engine read (`load build context`), 0 when not reported */
  contextBytes: number;
  /** images whose metadata was loaded (`load metadata for …`), `docker.io/library/` left out */
  images: string[];
}

/** How one lane reads another: its base (`FROM <stage>`), `COPY --from`, `RUN --mount=from`, or a vertex input. */
export type LaneEdgeKind = DfEdgeKind | 'input';

/** One stage read by another. */
export interface LaneEdge {
  /** label of the lane read */
  from: string;
  kind: LaneEdgeKind;
  /** digest of the step that reads it; '' for `FROM <stage>` (which makes no step) */
  step: string;
}

/** One Dockerfile stage. */
export interface Lane {
  /** the stage as BuildKit labels its steps: its name, `stage-N`, or '' for a single unnamed stage */
  label: string;
  /** index of the stage in the Dockerfile; -1 for a lane known only from vertex names */
  stage: number;
  /** `FROM busybox` as the Dockerfile writes it (without `AS …`), else as BuildKit printed it */
  base: string;
  /**
   * the `FROM` step: one vertex for every stage built on the same image, so several lanes may
   * share it; undefined for `FROM <stage>` and scratch
   */
  from: StepState | undefined;
  /** the stage's other steps, in Dockerfile order */
  steps: StepState[];
  /** the lanes it reads, in Dockerfile order */
  reads: LaneEdge[];
  /** labels of the lanes that read it */
  feeds: string[];
  /** 0 for a lane that reads no other, else one more than the deepest lane it reads */
  level: number;
  /** where the lane stands as a whole (see groupPhase) */
  phase: StepPhase;
}

/** The build drawn as lanes. */
export interface LaneGraph {
  /** BuildKit's vertices before the steps (load build definition, .dockerignore, metadata, context) */
  head: InternalGroup;
  /** BuildKit's vertices after them (exporting to image) */
  tail: InternalGroup;
  /** by level, then Dockerfile order: lanes of one level may run side by side */
  lanes: Lane[];
  /** every step once, as the graph shows them: head, each lane's (a shared FROM in its first lane), tail */
  order: StepState[];
  /** cascaded misses by digest: the step whose cause they followed */
  roots: ReadonlyMap<string, StepState>;
}

/** Cause kinds that explain every miss of a build at once. */
const BUILD_WIDE = new Set(['first_build', 'no_cache']);

/** Whether a step's cause is the build's (first build, --no-cache) rather than its own. */
export function isBuildWideCause(cause: StepCauseInfo): boolean {
  return BUILD_WIDE.has(cause.kind) && !isCascade(cause);
}

/**
 * The cause of the whole build, when its misses have one (first build, --no-cache): summaries say
 * it once (`⟳ first build`) and the steps that carry it show none of their own.
 */
export function buildWideCause(state: BuildState): StepCauseInfo | null {
  for (const s of state.steps) if (s.cause && isBuildWideCause(s.cause)) return s.cause;
  return null;
}

const isStep = (s: StepState) => s.stepIndex > 0;
const isFrom = (s: StepState) => isStep(s) && /^FROM\s/i.test(s.instruction);
/** BuildKit's vertices that come after the steps: the exporter and what it writes or pushes. */
const isExport = (s: StepState) => /^(exporting|writing|naming|pushing|sending tarball)\b/i.test(s.name);
/** `docker.io/library/busybox:latest` and `docker.io/library/busybox` are one image. */
const sameImage = (a: string, b: string) => a.replace(/:latest$/, '') === b.replace(/:latest$/, '');

/** Every step of the state as lanes, folded internal groups and cause roots. */
export function buildLanes(state: BuildState, plan?: StagePlan): LaneGraph {
  const steps = state.steps;
  const stages = plan?.stages ?? [];
  const lanes: Lane[] = [];
  const byLabel = new Map<string, Lane>();
  const laneFor = (label: string, stage = -1): Lane => {
    let lane = byLabel.get(label);
    if (!lane) {
      lane = {
        label,
        stage,
        base: '',
        from: undefined,
        steps: [],
        reads: [],
        feeds: [],
        level: 0,
        phase: 'waiting',
      };
      byLabel.set(label, lane);
      lanes.push(lane);
    }
    return lane;
  };
  for (const stage of stages) laneFor(stage.label, stage.index).base = stage.from;

  // Steps by the stage their name carries; FROM vertices are matched to lanes below.
  const froms: StepState[] = [];
  for (const s of steps) {
    if (!isStep(s)) continue;
    if (isFrom(s)) froms.push(s);
    else laneFor(s.stage.toLowerCase()).steps.push(s);
  }
  for (const lane of lanes) lane.steps.sort((a, b) => a.stepIndex - b.stepIndex || a.number - b.number);

  // A stage's FROM: the FROM vertex its first step builds on, else the one labelled with the
  // stage, else (a stage that has no other step) the one of its image.
  const claimed = new Set<string>();
  for (const lane of lanes) {
    const first = lane.steps[0];
    const stage = lane.stage >= 0 ? stages[lane.stage] : undefined;
    if (stage && stage.baseStage >= 0) continue;
    const image = stage?.printedFrom;
    lane.from =
      froms.find((f) => first?.inputs.includes(f.digest)) ??
      froms.find((f) => f.stage.toLowerCase() === lane.label) ??
      (image ? froms.find((f) => sameImage(f.instruction, image)) : undefined);
    if (lane.from) claimed.add(lane.from.digest);
  }
  for (const f of froms) {
    if (claimed.has(f.digest)) continue;
    const lane = laneFor(f.stage.toLowerCase());
    lane.from ??= f;
  }
  for (const lane of lanes) if (!lane.base && lane.from) lane.base = lane.from.instruction;

  // Edges: the Dockerfile's, else vertex inputs that cross lanes.
  const laneOf = new Map<string, Lane>();
  for (const lane of lanes) for (const s of lane.steps) laneOf.set(s.digest, lane);
  if (plan) {
    for (const e of plan.edges) {
      const from = byLabel.get(stages[e.from]?.label ?? '');
      const to = byLabel.get(stages[e.to]?.label ?? '');
      if (!from || !to) continue;
      const step = e.stepIndex > 0 ? (to.steps.find((s) => s.stepIndex === e.stepIndex)?.digest ?? '') : '';
      to.reads.push({ from: from.label, kind: e.kind, step });
    }
  } else {
    for (const lane of lanes)
      for (const s of lane.steps)
        for (const input of s.inputs) {
          const other = laneOf.get(input);
          if (other && other !== lane && !lane.reads.some((r) => r.from === other.label))
            lane.reads.push({ from: other.label, kind: 'input', step: s.digest });
        }
  }
  for (const lane of lanes)
    for (const r of lane.reads) {
      const from = byLabel.get(r.from);
      if (from && !from.feeds.includes(lane.label)) from.feeds.push(lane.label);
    }

  // Only the stages this build needs (the target and what it reads), and only those reported.
  const target = plan ? targetLane(plan, state.definition?.target ?? '', byLabel) : undefined;
  const needed = target ? reachable(target, byLabel) : undefined;
  const shown = lanes.filter(
    (l) => (!needed || needed.has(l.label)) && (l.steps.length > 0 || l.from !== undefined),
  );
  setLevels(shown, byLabel);
  const over = state.result !== null;
  for (const lane of shown)
    lane.phase = groupPhase(lane.from ? [lane.from, ...lane.steps] : lane.steps, over);
  const pos = (l: Lane) => (l.stage >= 0 ? l.stage : stages.length + lanes.indexOf(l));
  shown.sort((a, b) => a.level - b.level || pos(a) - pos(b));

  const head = steps.filter((s) => !isStep(s) && !isExport(s));
  const tail = steps.filter((s) => !isStep(s) && isExport(s));
  const order: StepState[] = [...head];
  const listed = new Set(head.map((s) => s.digest));
  const add = (s: StepState | undefined) => {
    if (!s || listed.has(s.digest)) return;
    listed.add(s.digest);
    order.push(s);
  };
  for (const lane of shown) {
    add(lane.from);
    for (const s of lane.steps) add(s);
  }
  // Steps of stages the target does not need (none, unless the names misled) still show, last.
  for (const s of steps) if (isStep(s)) add(s);
  for (const s of tail) add(s);

  const roots = new Map<string, StepState>();
  for (const s of steps) {
    if (!s.cause) continue;
    const root = causeRoot(state, s);
    if (root) roots.set(s.digest, root);
  }
  return {
    head: internalGroup(head, over),
    tail: internalGroup(tail, over),
    lanes: shown,
    order,
    roots,
  };
}

/** The lane of the build's target: the stage it names, else the last one. */
function targetLane(plan: StagePlan, target: string, byLabel: Map<string, Lane>): Lane | undefined {
  const t = target.toLowerCase();
  const stage = (t ? plan.stages.find((s) => s.name === t) : undefined) ?? plan.stages.at(-1);
  return stage ? byLabel.get(stage.label) : undefined;
}

function reachable(target: Lane, byLabel: Map<string, Lane>): Set<string> {
  const out = new Set<string>();
  const visit = (lane: Lane | undefined) => {
    if (!lane || out.has(lane.label)) return;
    out.add(lane.label);
    for (const r of lane.reads) visit(byLabel.get(r.from));
  };
  visit(target);
  return out;
}

function setLevels(lanes: Lane[], byLabel: Map<string, Lane>): void {
  const shown = new Set(lanes.map((l) => l.label));
  // Reads may point forward (`--from` of a later named stage): settle in a few passes, no cycles assumed.
  for (let pass = 0; pass <= lanes.length; pass++) {
    let moved = false;
    for (const lane of lanes) {
      let level = 0;
      for (const r of lane.reads)
        if (shown.has(r.from)) level = Math.max(level, (byLabel.get(r.from)?.level ?? 0) + 1);
      if (level !== lane.level && level <= lanes.length) {
        lane.level = level;
        moved = true;
      }
    }
    if (!moved) return;
  }
}

/**
 * Where a group of steps stands as a whole: failed or running when one is; waiting when none
 * started; canceled when one was, or when the build ended with some never reached; cached when
 * every one was a hit; else done (something ran).
 */
export function groupPhase(steps: readonly StepState[], buildOver: boolean): StepPhase {
  const phases = steps.map(stepPhase);
  if (phases.length === 0) return 'waiting';
  if (phases.includes('failed')) return 'failed';
  if (phases.includes('running')) return buildOver ? 'canceled' : 'running';
  if (phases.includes('canceled')) return 'canceled';
  if (phases.every((p) => p === 'waiting')) return 'waiting';
  if (phases.includes('waiting')) return buildOver ? 'canceled' : 'running';
  if (phases.every((p) => p === 'cached')) return 'cached';
  return 'done';
}

function internalGroup(steps: StepState[], over: boolean): InternalGroup {
  const started = steps.filter((s) => s.startedMs > 0).map((s) => s.startedMs);
  const allDone = steps.length > 0 && steps.every((s) => s.completedMs > 0 || s.cached || s.error !== '');
  let dockerfileBytes = 0;
  let contextBytes = 0;
  const images: string[] = [];
  for (const s of steps) {
    for (const st of s.statuses)
      if (st.id.startsWith('transferring dockerfile'))
        dockerfileBytes = Math.max(dockerfileBytes, st.current);
    if (/^load (remote )?build context$/.test(s.instruction))
      contextBytes = Math.max(contextBytes, s.bytesCurrent);
    const meta = /^load metadata for (\S+)/.exec(s.instruction);
    if (meta?.[1]) images.push(meta[1].replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, ''));
  }
  return {
    steps,
    phase: groupPhase(steps, over),
    startedMs: started.length > 0 ? Math.min(...started) : 0,
    completedMs: allDone ? Math.max(...steps.map((s) => s.completedMs)) : 0,
    dockerfileBytes,
    contextBytes,
    images,
  };
}

/**
 * The steps a reader moves through, in the graph's order: BuildKit's own vertices only when they
 * are listed (`internal`), each shared FROM once.
 */
export function graphOrder(graph: LaneGraph, internal: boolean): StepState[] {
  return internal ? graph.order : graph.order.filter(isStep);
}
