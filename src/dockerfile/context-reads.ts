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
import { DockerfileParser } from 'dockerfile-ast';
import { cleanFollowPath } from '../protocol/follow-paths.js';

export type ContextReads =
  /** Follow paths (context-relative, may hold glob characters), deduplicated and sorted. */
  | { kind: 'paths'; paths: string[] }
  /** The whole context, and why. */
  | { kind: 'all'; reason: string };

/** Variables visible in a stage: a value, or undefined when only the base image could tell. */
type Scope = Map<string, string | undefined>;

class Unknown extends Error {}

// The args BuildKit fills in itself when a stage declares them (platforms, proxies).
const AUTOMATIC_ARGS = /^(TARGET|BUILD)(PLATFORM|OS|ARCH|VARIANT)$|^(HTTPS?|FTP|NO|ALL)_PROXY$/i;

const REMOTE_SOURCE = /^(?:[a-z][a-z0-9+.-]*:\/\/|[^/\s]+@[^/\s]+:)/i;

/** `$A`, `${A}`, `${A:-word}`, `${A:+word}` as BuildKit's shell lexer reads them; Unknown otherwise. */
function expand(text: string, scope: Scope): string {
  if (!text.includes('$')) return text;
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(.?))/g,
    (
      _all,
      braced: string | undefined,
      op: string | undefined,
      word: string | undefined,
      bare: string | undefined,
      other: string | undefined,
    ) => {
      if (other !== undefined) throw new Unknown(`"$${other}" in a path`);
      const name = (braced ?? bare)!;
      if (!scope.has(name)) throw new Unknown(`$${name} is not set by the Dockerfile`);
      const value = scope.get(name);
      if (value === undefined) throw new Unknown(`$${name} may come from the base image`);
      if (op === ':-') return value === '' ? expand(word ?? '', scope) : value;
      if (op === ':+') return value === '' ? '' : expand(word ?? '', scope);
      return value;
    },
  );
}

/** The sources of a COPY/ADD argument text (flags already removed); the last word is the destination. */
function sourceWords(args: string): string[] {
  const text = args.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed.slice(0, -1);
    } catch {
      // Not JSON after all: BuildKit reads it as shell form, so do we.
    }
  }
  return text.split(/\s+/).filter(Boolean).slice(0, -1);
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

interface ArgLike {
  getProperty(): { getName(): string; getValue(): string | null } | null;
}
interface EnvLike {
  getProperties(): Array<{ getName(): string; getValue(): string | null }>;
}
interface FlagLike {
  getName(): string;
  getValue(): string | null;
}
interface FromLike {
  getImage(): string | null;
  getBuildStage(): string | null;
}

/** The context paths `dockerfile` can read, with `buildArgs` as given to the build. */
export function contextReads(dockerfile: string, buildArgs: Readonly<Record<string, string>>): ContextReads {
  let df: ReturnType<typeof DockerfileParser.parse>;
  try {
    df = DockerfileParser.parse(dockerfile);
  } catch {
    return { kind: 'all', reason: 'the Dockerfile could not be parsed' };
  }
  if (df.getDirectives().some((d) => d.getName()?.toLowerCase() === 'syntax'))
    return { kind: 'all', reason: 'a "# syntax=" frontend may read any path' };

  const argValue = (name: string, fallback: string | undefined): string | undefined =>
    Object.hasOwn(buildArgs, name) ? buildArgs[name] : fallback;
  const globals: Scope = new Map();
  const stageEnv = new Map<string, Scope>();
  const paths = new Set<string>();
  let scope: Scope | undefined;
  let env: Scope = new Map();
  try {
    for (const instruction of df.getInstructions()) {
      const keyword = instruction.getKeyword().toUpperCase();
      if (keyword === 'FROM') {
        const from = instruction as unknown as FromLike;
        // A stage sees its parent stage's ENV, not its ARGs; an image's ENV is unknown here.
        env = new Map(stageEnv.get((from.getImage() ?? '').toLowerCase()) ?? []);
        scope = new Map(env);
        const name = from.getBuildStage();
        if (name) stageEnv.set(name.toLowerCase(), env);
        continue;
      }
      if (keyword === 'ARG') {
        const prop = (instruction as unknown as ArgLike).getProperty();
        const name = prop?.getName();
        if (!name) continue;
        const raw = prop?.getValue();
        if (!scope) {
          const def = raw == null ? '' : expandOrUndefined(raw, globals);
          globals.set(name, argValue(name, def));
          continue;
        }
        let value: string | undefined;
        if (raw != null) value = argValue(name, expandOrUndefined(raw, scope));
        else if (Object.hasOwn(buildArgs, name)) value = buildArgs[name];
        else if (globals.has(name)) value = globals.get(name);
        else value = AUTOMATIC_ARGS.test(name) ? undefined : '';
        scope.set(name, value);
        continue;
      }
      if (!scope) continue;
      if (keyword === 'ENV') {
        for (const p of (instruction as unknown as EnvLike).getProperties()) {
          const name = p.getName();
          if (!name) continue;
          const value = expandOrUndefined(p.getValue() ?? '', scope);
          scope.set(name, value);
          env.set(name, value);
        }
      } else if (keyword === 'COPY' || keyword === 'ADD') {
        const flags = (instruction as unknown as { getFlags(): FlagLike[] }).getFlags();
        if (flags.some((f) => f.getName().toLowerCase() === 'from')) continue;
        for (const word of sourceWords(instruction.getArgumentsContent() ?? '')) {
          if (word.startsWith('<<')) continue;
          if (keyword === 'ADD' && REMOTE_SOURCE.test(word)) continue;
          addPath(paths, expand(word, scope), keyword);
        }
      } else if (keyword === 'RUN') {
        const flags = (instruction as unknown as { getFlags(): FlagLike[] }).getFlags();
        for (const f of flags) {
          if (f.getName().toLowerCase() !== 'mount') continue;
          const source = mountSource(f.getValue() ?? '');
          if (source !== undefined) addPath(paths, expand(source, scope), 'RUN --mount');
        }
      }
    }
  } catch (err) {
    if (err instanceof Unknown) return { kind: 'all', reason: err.message };
    throw err;
  }
  return { kind: 'paths', paths: [...paths].sort() };
}

function expandOrUndefined(text: string, scope: Scope): string | undefined {
  try {
    return expand(text, scope);
  } catch (err) {
    if (err instanceof Unknown) return undefined;
    throw err;
  }
}

function addPath(paths: Set<string>, source: string, what: string): void {
  // A backslash may be an escape or a character: not worth guessing.
  if (source.includes('\\')) throw new Unknown(`${what} ${JSON.stringify(source)} holds a backslash`);
  const clean = cleanFollowPath(source);
  if (clean === '') throw new Unknown(`${what} ${JSON.stringify(source)} reads the whole context`);
  paths.add(clean);
}
