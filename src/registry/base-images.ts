/**
 * Which registries a Dockerfile pulls from, so that a build can carry credentials for private
 * base images. Pure: text and build args in, registry hosts out.
 */
import {
  declarations,
  expandVariables,
  flagsOf,
  fromParts,
  parseInstructions,
  type VariableValue,
  wordValue,
} from '../dockerfile/parser.js';
import { parseReference, registryOf } from './reference.js';

/** The registries a Dockerfile's images come from. */
export interface BaseImageRegistries {
  /** Registry hosts ("docker.io" for Docker Hub), unique, in order of appearance. */
  hosts: string[];
  /**
   * Some image's registry depends on a value the client cannot know (an undeclared or unset
   * ARG, a platform ARG such as TARGETARCH, an unsupported expansion): the caller should send
   * credentials for every registry it knows.
   */
  unresolved: boolean;
}

/** ARGs BuildKit sets itself, per platform: unknown until the build runs. */
const PLATFORM_ARGS = new Set([
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETARCH',
  'TARGETVARIANT',
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDARCH',
  'BUILDVARIANT',
]);

/** The registry host of an image reference (tag and digest allowed), or undefined if unknown. */
function registryHost(ref: string): string | undefined {
  if (ref.includes('$')) {
    // The host is known when the first path component is complete: `reg.io/app:$TAG`.
    const slash = ref.indexOf('/');
    if (slash < 0 || slash > ref.indexOf('$')) return undefined;
    return registryOf(`${ref.slice(0, slash)}/x`);
  }
  try {
    return parseReference(ref, { allowDigest: true }).registry;
  } catch {
    // A malformed reference: the build will say so; the registry is still its first component's.
    return registryOf(ref);
  }
}

/** `--from=X` and `--mount=…,from=X,…` flags of COPY and RUN: images they may pull. */
function flagImages(rest: string): string[] {
  const out: string[] = [];
  for (const [name, value] of flagsOf(rest).flags) {
    if (name === 'from') out.push(value);
    if (name === 'mount')
      for (const opt of value.split(',')) {
        const m = /^from=(.+)$/.exec(opt.trim());
        if (m) out.push(m[1]!);
      }
  }
  return out;
}

/**
 * The registries of a Dockerfile's images: every `FROM` (flags such as `--platform=` skipped,
 * `AS name` noted), `COPY --from=IMAGE`, `RUN --mount=…,from=IMAGE`, and the `# syntax=`
 * frontend. `scratch`, earlier stage names and stage numbers are not images. ARGs declared
 * before the first FROM are substituted (their defaults, overridden by `buildArgs`); a reference
 * whose registry still depends on a variable sets `unresolved`.
 */
export function fromRegistries(
  dockerfileText: string,
  buildArgs: Record<string, string>,
): BaseImageRegistries {
  const { instructions, escapeChar, syntax } = parseInstructions(dockerfileText);
  const hosts: string[] = [];
  let unresolved = false;
  const global = new Map<string, VariableValue>();
  const lookup = (name: string): VariableValue => {
    if (Object.hasOwn(buildArgs, name) && (global.has(name) || PLATFORM_ARGS.has(name)))
      return buildArgs[name]!;
    if (PLATFORM_ARGS.has(name)) return null;
    return global.get(name);
  };
  const stages: string[] = [];
  const addImage = (raw: string, isFrom: boolean) => {
    const ref = expandVariables(raw, lookup);
    const lower = ref.toLowerCase();
    if (lower === 'scratch' && isFrom) return;
    if (stages.includes(lower)) return;
    if (!isFrom && /^\d+$/.test(ref)) return; // --from=0: a stage by index
    const host = registryHost(ref);
    if (!host) {
      unresolved = true;
      return;
    }
    if (!hosts.includes(host)) hosts.push(host);
  };

  if (syntax) addImage(syntax, false);
  let sawFrom = false;
  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && !sawFrom) {
      for (const [name, value] of declarations('ARG', ins.rest, escapeChar)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
        // An unset declared ARG is undefined: `$X` stays unresolved, `${X:-d}` is d.
        global.set(name, value === undefined ? undefined : expandVariables(value, lookup));
      }
      continue;
    }
    if (ins.keyword === 'FROM') {
      sawFrom = true;
      const { image, stage } = fromParts(ins.rest);
      if (!image) continue;
      addImage(wordValue(image, escapeChar), true);
      if (stage) stages.push(stage);
      continue;
    }
    if (ins.keyword === 'COPY' || ins.keyword === 'RUN')
      for (const image of flagImages(ins.rest)) addImage(image, false);
  }
  return { hosts, unresolved };
}
