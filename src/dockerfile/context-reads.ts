/**
 * Which paths of the build context a Dockerfile can read: the sources of its COPY/ADD
 * instructions (every stage, variables resolved) and of its `RUN --mount=type=bind` mounts — what
 * BuildKit's Dockerfile frontend asks the session for ("followpaths"). A superset is always safe;
 * whenever a source cannot be known for sure (a variable that only the base image defines, a
 * `# syntax=` frontend, an unparsable file), the answer is the whole context.
 *
 * What this cannot see (a base image's ONBUILD COPY) the builder catches: the engine asks for a
 * path outside these, the build fails with "context_incomplete", and the client syncs everything.
 */
import { cleanFollowPath } from '../protocol/follow-paths.js';
import {
  copyWords,
  declarations,
  expandVariables,
  flagsOf,
  fromParts,
  type ParsedDockerfile,
  parseInstructions,
} from './parser.js';

export type ContextReads =
  /** Follow paths (context-relative, may hold glob characters), deduplicated and sorted. */
  | { kind: 'paths'; paths: string[] }
  /** The whole context, and why. */
  | { kind: 'all'; reason: string };

/** Variables visible in a stage: a value, or null when only the base image or BuildKit could tell. */
type Scope = Map<string, string | null>;

/** A value (a variable, a path) that only the build itself could resolve; the message says which. */
export class UnknownValue extends Error {}

// The args BuildKit fills in itself when a stage declares them (platforms, proxies).
const AUTOMATIC_ARGS = /^(TARGET|BUILD)(PLATFORM|OS|ARCH|VARIANT)$|^(HTTPS?|FTP|NO|ALL)_PROXY$/i;

/** An ADD source that is fetched rather than read from the context (a URL, a git remote). */
export const REMOTE_SOURCE = /^(?:[a-z][a-z0-9+.-]*:\/\/|[^/\s]+@[^/\s]+:)/i;

/** `text` with the scope's variables expanded; UnknownValue when one cannot be known here. */
function expand(text: string, scope: Scope): string {
  if (!text.includes('$')) return text;
  // A variable the Dockerfile never set may come from the base image: unknown (null).
  const out = expandVariables(text, (name) => (scope.has(name) ? scope.get(name) : null));
  if (out.includes('$'))
    throw new UnknownValue(`${JSON.stringify(text)} names a variable only the build can resolve`);
  return out;
}

function mountSource(value: string): string | undefined {
  let type = 'bind';
  let from: string | undefined;
  let source = '';
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : field.slice(eq + 1);
    if (key === 'type') type = v.toLowerCase();
    else if (key === 'from') from = v;
    else if (key === 'source' || key === 'src') source = v;
  }
  if (type !== 'bind' || from) return undefined;
  return source;
}

/** One instruction as `walkInstructions` hands it over, with what its stage knows at that point. */
export interface ScopedInstruction {
  /** Upper case. */
  keyword: string;
  rest: string;
  /** 1-based line of the instruction's first line. */
  line: number;
  /** 0-based index of the stage the instruction is in; -1 before the first FROM. */
  stage: number;
  /** For FROM: the base (a stage name or an image, lowercased, as written) and the stage's own name. */
  from?: { base: string; name?: string };
  /**
   * `text` with the variables visible here expanded (build args, ARG, ENV); throws UnknownValue
   * when one cannot be known here. Valid only during the visit (the scope moves on after it).
   */
  expand(text: string): string;
}

/**
 * Walks a parsed Dockerfile's instructions keeping each stage's variables the way BuildKit does
 * (global ARGs, a stage's ARGs with `buildArgs` applied, ENV inherited from a parent stage), and
 * calls `visit` once per instruction, after the instruction's own ARG/ENV took effect.
 */
export function walkInstructions(
  { instructions, escapeChar }: Pick<ParsedDockerfile, 'instructions' | 'escapeChar'>,
  buildArgs: Readonly<Record<string, string>>,
  visit: (instruction: ScopedInstruction) => void,
): void {
  const argValue = (name: string, fallback: string | null): string | null =>
    Object.hasOwn(buildArgs, name) ? buildArgs[name]! : fallback;
  const globals: Scope = new Map();
  const stageEnv = new Map<string, Scope>();
  let scope: Scope | undefined;
  let env: Scope = new Map();
  let stage = -1;
  for (const { keyword, rest, line } of instructions) {
    let from: ScopedInstruction['from'];
    if (keyword === 'FROM') {
      const { image, stage: name } = fromParts(rest);
      const base = image.toLowerCase();
      // A stage sees its parent stage's ENV, not its ARGs; an image's ENV is unknown here.
      env = new Map(stageEnv.get(base) ?? []);
      scope = new Map(env);
      stage++;
      if (name) stageEnv.set(name, env);
      from = { base, ...(name ? { name } : {}) };
    } else if (keyword === 'ARG') {
      for (const [name, raw] of declarations(keyword, rest, escapeChar)) {
        if (!scope) {
          globals.set(name, argValue(name, raw === undefined ? '' : expandOrNull(raw, globals)));
          continue;
        }
        let value: string | null;
        if (raw !== undefined) value = argValue(name, expandOrNull(raw, scope));
        else if (Object.hasOwn(buildArgs, name)) value = buildArgs[name]!;
        else if (globals.has(name)) value = globals.get(name)!;
        else value = AUTOMATIC_ARGS.test(name) ? null : '';
        scope.set(name, value);
      }
    } else if (keyword === 'ENV' && scope) {
      for (const [name, raw] of declarations(keyword, rest, escapeChar)) {
        const value = expandOrNull(raw ?? '', scope);
        scope.set(name, value);
        env.set(name, value);
      }
    }
    const current = scope ?? globals;
    visit({ keyword, rest, line, stage, ...(from ? { from } : {}), expand: (text) => expand(text, current) });
  }
}

/** One context path an instruction reads: cleaned (follow-path form, may hold globs; '' is the whole context). */
export interface InstructionRead {
  path: string;
  /** The source as written, variables expanded. */
  source: string;
  /** `COPY`, `ADD` or `RUN --mount`. */
  what: string;
}

/**
 * The context paths one instruction reads: a COPY/ADD's sources (not `--from`, URLs or heredocs)
 * and a RUN's `--mount=type=bind` sources, variables expanded. Throws UnknownValue when one cannot
 * be known here (a variable only the build resolves, a backslash or quote).
 */
export function instructionReads(ins: ScopedInstruction): InstructionRead[] {
  const out: InstructionRead[] = [];
  const add = (raw: string, what: string) => {
    const source = ins.expand(raw);
    // A backslash or a quote may be an escape or a character: not worth guessing.
    if (/[\\"']/.test(source))
      throw new UnknownValue(`${what} ${JSON.stringify(source)} holds a backslash or quote`);
    out.push({ path: cleanFollowPath(source), source, what });
  };
  if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
    const { flags, args } = flagsOf(ins.rest);
    if (flags.some(([f]) => f === 'from')) return out;
    for (const word of copyWords(args).slice(0, -1)) {
      if (word.startsWith('<<')) continue;
      if (ins.keyword === 'ADD' && REMOTE_SOURCE.test(word)) continue;
      add(word, ins.keyword);
    }
  } else if (ins.keyword === 'RUN') {
    for (const [f, value] of flagsOf(ins.rest).flags) {
      if (f !== 'mount') continue;
      const source = mountSource(value);
      if (source !== undefined) add(source, 'RUN --mount');
    }
  }
  return out;
}

/** The context paths `dockerfile` can read, with `buildArgs` as given to the build. */
export function contextReads(dockerfile: string, buildArgs: Readonly<Record<string, string>>): ContextReads {
  const parsed = parseInstructions(dockerfile);
  if (parsed.syntax) return { kind: 'all', reason: 'a "# syntax=" frontend may read any path' };
  const paths = new Set<string>();
  try {
    walkInstructions(parsed, buildArgs, (ins) => {
      if (ins.stage < 0) return;
      for (const { path, source, what } of instructionReads(ins)) {
        if (path === '') throw new UnknownValue(`${what} ${JSON.stringify(source)} reads the whole context`);
        paths.add(path);
      }
    });
  } catch (err) {
    if (err instanceof UnknownValue) return { kind: 'all', reason: err.message };
    throw err;
  }
  return { kind: 'paths', paths: [...paths].sort() };
}

function expandOrNull(text: string, scope: Scope): string | null {
  try {
    return expand(text, scope);
  } catch (err) {
    if (err instanceof UnknownValue) return null;
    throw err;
  }
}
