/**
 * Which layer of a built image each Dockerfile step made, and its size.
 *
 * BuildKit 0.8 behind Docker's `/build` puts no layer sizes in its progress; the image's history
 * does (`GET /images/{id}/history`: `CreatedBy` and `Size` per entry, newest first). Above the base
 * image's own entries come the instructions of the image's chain of stages, in order: the target
 * stage and every stage it is `FROM` (not the stages it copies or mounts from: those leave no layer
 * in it). That chain is walked back through the build's vertices from the one Dockerfile step no
 * other step builds on, through each step's first input — the state the instruction runs on
 * (BuildKit lists a file operation's destination first and sorts an exec's mounts by target, so
 * `/` comes first) — down to the stage's `FROM`.
 *
 * The history entries that carry a layer are `RUN`, `COPY`, `ADD` and `WORKDIR` (but `WORKDIR /`,
 * for which BuildKit runs nothing); `ENV`, `LABEL`, `ARG`, `CMD` and the like add an entry without
 * one. Those entries pair with the chain's steps one to one, newest first, until either runs out
 * (a `FROM scratch` stage's chain goes on into the stage it copies from; its image does not). Each
 * pair must name the same instruction; when one does not, nothing is told at all: no size is
 * better than the wrong one.
 */
import { isDockerfileStep, isFromStep, stepInstruction } from '../../../src/protocol/dockerfile-steps.js';
import type { ImageHistoryEntry } from '../engine/index.js';

/** A vertex of the build as the builder kept it. */
export interface StepVertex {
  digest: string;
  name: string;
  inputs: readonly string[];
}

/** The layer one step added to the image. */
export interface StepLayerSize {
  vertex: string;
  /** uncompressed bytes, as the engine's image history counts them */
  bytes: number;
}

/** Instructions whose history entry carries a layer. */
const LAYER_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

function keyword(text: string): string {
  return /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? '';
}

/** Whether a history entry added a layer a Dockerfile step made (see the module comment). */
function hasStepLayer(entry: ImageHistoryEntry): boolean {
  return LAYER_INSTRUCTIONS.has(keyword(entry.createdBy)) && !/^\s*WORKDIR\s+\/\s*$/i.test(entry.createdBy);
}

/**
 * The image's chain of steps, newest first: from the one Dockerfile step no other step takes as an
 * input, back through first inputs, the `FROM` left out. Empty when there is no such single step.
 */
export function imageChain(vertices: Iterable<StepVertex>): StepVertex[] {
  const steps = new Map<string, StepVertex>();
  for (const v of vertices) if (isDockerfileStep(v.name)) steps.set(v.digest, v);
  const feeds = new Set<string>();
  for (const v of steps.values()) for (const input of v.inputs) if (steps.has(input)) feeds.add(input);
  const tips = [...steps.values()].filter((v) => !feeds.has(v.digest));
  if (tips.length !== 1) return [];
  const chain: StepVertex[] = [];
  const seen = new Set<string>();
  for (let v = tips[0]; v && !seen.has(v.digest) && !isFromStep(v.name); v = steps.get(v.inputs[0] ?? '')) {
    seen.add(v.digest);
    chain.push(v);
  }
  return chain;
}

/** The size of each step's layer in the built image (see the module comment); [] when unsure. */
export function stepLayers(
  vertices: Iterable<StepVertex>,
  history: readonly ImageHistoryEntry[],
): StepLayerSize[] {
  const chain = imageChain(vertices);
  const entries = history.filter(hasStepLayer);
  const out: StepLayerSize[] = [];
  for (let i = 0; i < chain.length && i < entries.length; i++) {
    const step = chain[i]!;
    const entry = entries[i]!;
    if (keyword(stepInstruction(step.name)) !== keyword(entry.createdBy)) return [];
    out.push({ vertex: step.digest, bytes: entry.size });
  }
  return out;
}
