/**
 * Which steps the smart cache reused: an install BuildKit answered from its cache while the copy
 * of the rest of the context right after it ran — files outside the install's manifests changed,
 * so the original order (`COPY . .` first) would have run the install again. Told from the build's
 * own vertices: the rest copy's inputs name the install it builds on, so only that pair counts.
 */
import type { BuildEvent } from '../progress/events.js';
import { stepInstruction } from '../protocol/dockerfile-steps.js';
import type { SmartRewrite } from './plan.js';

/** An instruction's words, whitespace and line continuations folded, to compare with a step name. */
function words(instruction: string): string {
  return instruction
    .replace(/\\\r?\n/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The text of a `step/reused` event for `rewrite`. */
export function reuseText(rewrite: Pick<SmartRewrite, 'installer' | 'manifests'>): string {
  return `${rewrite.installer} reused by the smart cache: only files outside ${rewrite.manifests.join(', ')} changed`;
}

/**
 * A watcher of a build's events: give it every event; it answers the `step/reused` event to emit
 * when one becomes known (once per install step).
 */
export function smartReuseWatcher(
  rewrites: readonly SmartRewrite[],
): (event: BuildEvent) => Extract<BuildEvent, { type: 'step/reused' }> | undefined {
  const watches = rewrites.map((r) => ({ rewrite: r, install: words(r.install), rest: words(r.rest) }));
  const vertices = new Map<string, { instruction: string; cached: boolean }>();
  const marked = new Set<string>();
  return (event) => {
    if (event.type !== 'vertex/updated') return undefined;
    const v = event.vertex;
    const instruction = words(stepInstruction(v.name));
    vertices.set(v.digest, { instruction, cached: v.cached });
    // The rest copy ran (it started or finished without a cache hit).
    if (v.cached || (v.startedMs <= 0 && v.completedMs <= 0) || v.error) return undefined;
    for (const w of watches) {
      if (w.rest !== instruction) continue;
      for (const input of v.inputs) {
        const before = vertices.get(input);
        if (!before?.cached || before.instruction !== w.install || marked.has(input)) continue;
        marked.add(input);
        return { type: 'step/reused', timeMs: event.timeMs, vertex: input, text: reuseText(w.rewrite) };
      }
    }
    return undefined;
  };
}
