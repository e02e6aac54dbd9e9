/**
 * The Dockerfile advisor's cost from history: what a finding's instruction cost the team over the
 * builder's recorded builds of the same Dockerfile ("invalidated RUN npm ci in 38 of the last 50
 * builds: 31 min"). The numbers come from the builder's StepCosts RPC; a builder without it (older,
 * or keeping no history) makes the history unavailable, never an error of the advice.
 */
import {
  type BuilderSession,
  CAPABILITY_STEP_COSTS,
  DepotError,
  type StepCostsQuery,
  type StepCostsResponseWire,
} from '../session/index.js';
import { sameInstruction } from './same-instruction.js';

/** How often a whole-context copy's changes left the install after it alone (see InstallReuse). */
export interface InstallReuseView {
  tool: string;
  manifests: string[];
  reusable: number;
  reusableMs: number;
  unknown: number;
}

/** The cascaded misses of one instruction that followed one root. */
export interface CascadeView {
  /** The root's instruction; '' when the history does not say. */
  root: string;
  count: number;
  costMs: number;
  installReuse?: InstallReuseView;
}

/** One instruction's record over the builds read. */
export interface StepCostView {
  instr: string;
  runs: number;
  misses: number;
  rootMisses: number;
  cascadedMisses: number;
  costMs: number;
  rootCostMs: number;
  causedBy: CascadeView[];
}

/** The StepCosts answer, as the advisor reads it. */
export interface StepCosts {
  /** Builds read (newest first) and the bound that applied. */
  builds: number;
  last: number;
  steps: StepCostView[];
  moreSteps: number;
}

/** The history's answer, or why there is none. */
export type HistoryCost = { available: true; costs: StepCosts } | { available: false; reason: string };

/** A finding the cost line is for: its instruction and the later ones it invalidates. */
export interface CostFinding {
  /** e.g. "COPY . ." */
  instruction: string;
  /** e.g. ["RUN npm ci"] */
  affects?: readonly string[];
}

/**
 * Reads the step costs of one line of builds (`query`: the Dockerfile path as `depot build` sends
 * it, target, platform, last N) from the session's builder. `hello`: the builder's Hello answer
 * when the caller has it (else one Hello is made). A builder that does not announce the
 * "history.step-costs" capability, or answers that it keeps none, gives `available: false` with the
 * reason; any other failure (unreachable, refused token…) is thrown as the session's DepotError.
 */
export async function readHistoryCost(
  session: Pick<BuilderSession, 'hello' | 'stepCosts'>,
  query: StepCostsQuery,
  opts: { hello?: { capabilities: readonly string[] }; signal?: AbortSignal } = {},
): Promise<HistoryCost> {
  const hello = opts.hello ?? (await session.hello(opts.signal));
  if (!hello.capabilities.includes(CAPABILITY_STEP_COSTS))
    return { available: false, reason: 'the builder does not record step costs (upgrade depot-builder)' };
  try {
    return { available: true, costs: fromWire(await session.stepCosts(query, opts.signal)) };
  } catch (err) {
    if (err instanceof DepotError && err.code === 'unsupported')
      return { available: false, reason: err.message };
    throw err;
  }
}

/** The wire answer as the view model (the one place the advisor reads wire types). */
export function fromWire(res: StepCostsResponseWire): StepCosts {
  return {
    builds: res.builds,
    last: res.last,
    moreSteps: res.moreSteps,
    steps: res.steps.map((s) => ({
      instr: s.instr,
      runs: s.runs,
      misses: s.misses,
      rootMisses: s.rootMisses,
      cascadedMisses: s.cascadedMisses,
      costMs: s.costMs,
      rootCostMs: s.rootCostMs,
      causedBy: s.causedBy.map((c) => ({
        root: c.root,
        count: c.count,
        costMs: c.costMs,
        ...(c.installReuse
          ? {
              installReuse: {
                tool: c.installReuse.tool,
                manifests: [...c.installReuse.manifests],
                reusable: c.installReuse.reusable,
                reusableMs: c.installReuse.reusableMs,
                unknown: c.installReuse.unknown,
              },
            }
          : {}),
      })),
    })),
  };
}

/**
 * One line of what a finding cost, e.g. "invalidated RUN npm ci in 38 of the last 50 builds: 31 min;
 * --smart-cache would have reused it in 36". With `affects`, each affected instruction the history
 * saw missing after `instruction`; else (or when none did) the instruction's own misses. An
 * unavailable history gives "history unavailable: <why>"; undefined when the history holds no build
 * of this line or never ran the instruction.
 */
export function costLine(finding: CostFinding, history: HistoryCost): string | undefined {
  if (!history.available) return `history unavailable: ${history.reason}`;
  const { costs } = history;
  if (costs.builds === 0) return undefined;
  const of = ofBuilds(costs.builds);
  const parts: string[] = [];
  for (const affected of finding.affects ?? []) {
    const step = findStep(costs, affected);
    const cascade = step?.causedBy.find((c) => sameInstruction(c.root, finding.instruction));
    if (!step || !cascade || cascade.count === 0) continue;
    let part = `invalidated ${step.instr} in ${cascade.count} of ${of}: ${costText(cascade.costMs)}`;
    const reuse = cascade.installReuse;
    if (reuse) {
      // Only the installs the smart cache rewrites are its to claim; for the others, the fix by hand.
      part += smartCacheTakes(step.instr)
        ? `; --smart-cache would have reused it in ${reuse.reusable}`
        : `; copying ${reuse.manifests.slice(0, 2).join(' and ')} first would have reused it in ${reuse.reusable}`;
      if (reuse.unknown > 0) part += ` (${reuse.unknown} unknown: changes not recorded in full)`;
    }
    parts.push(part);
  }
  if (parts.length > 0) return parts.join('; ');
  const own = findStep(costs, finding.instruction);
  if (!own) return undefined;
  if (own.misses === 0) return `cached in all ${own.runs} runs of ${of}`;
  let line = `missed in ${own.misses} of ${of}: ${costText(own.costMs)}`;
  const top = own.causedBy[0];
  if (own.cascadedMisses > 0 && top?.root)
    line += ` (${own.cascadedMisses} after an earlier miss, ${top.count} after ${top.root})`;
  return line;
}

/**
 * Whether an install is of a kind `--smart-cache` rewrites (npm ci, pip install -r
 * requirements.txt, go mod download); whether this Dockerfile's is taken (flags, lifecycle
 * scripts…) is the smart cache's plan to say.
 */
export function smartCacheTakes(instr: string): boolean {
  return /^RUN\s+(?:npm\s+ci\b|pip3?\s+install\b.*\s-r\s+requirements\.txt\b|go\s+mod\s+download\b)/i.test(
    instr.replace(/\s+/g, ' ').trim(),
  );
}

/** "the last build", "the last 50 builds". */
function ofBuilds(n: number): string {
  return n === 1 ? 'the last build' : `the last ${n} builds`;
}

/** A cost as a person reads it: "850 ms", "12 s", "31 min", "2 h 5 min". */
export function costText(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0;
  if (safe < 1000) return `${safe} ms`;
  if (safe < 60_000) return `${Math.round(safe / 1000)} s`;
  const minutes = Math.round(safe / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

function findStep(costs: StepCosts, instruction: string): StepCostView | undefined {
  return costs.steps.find((s) => sameInstruction(s.instr, instruction));
}

export { sameInstruction };
