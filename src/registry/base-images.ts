/**
 * Which registries a Dockerfile pulls from, so that a build can carry credentials for private
 * base images. Pure: text and build args in, registry hosts out.
 */
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

/** One instruction: its keyword (upper case), its arguments' text and its line (1-based). */
interface Instruction {
  keyword: string;
  rest: string;
  line: number;
}

const HEREDOC = /<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

/**
 * Splits a Dockerfile into instructions the way BuildKit's parser does: parser directives
 * (`# escape=`, `# syntax=`) at the top, comments, line continuations with the escape character
 * (comment and empty lines inside a continuation are skipped), and heredoc bodies, which are not
 * instructions.
 */
export function parseInstructions(text: string): {
  instructions: Instruction[];
  escapeChar: string;
  syntax: string;
} {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escapeChar = '\\';
  let syntax = '';
  let i = 0;
  // Parser directives: `# key=value` lines at the very top, each key once.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) break;
    seen.add(key);
    if (key === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
    else if (key === 'syntax') syntax = m[2]!;
  }
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const first = lines[i]!;
    const startLine = i + 1;
    i++;
    if (/^\s*(#|$)/.test(first)) continue;
    let logical = '';
    let cur = first;
    for (;;) {
      const trimmed = cur.replace(/\s+$/, '');
      if (trimmed.endsWith(escapeChar)) {
        logical += trimmed.slice(0, -1);
        // Continue with the next line that is neither a comment nor empty.
        while (i < lines.length && /^\s*(#|$)/.test(lines[i]!)) i++;
        if (i >= lines.length) break;
        cur = lines[i]!;
        i++;
        continue;
      }
      logical += cur;
      break;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(logical);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    instructions.push({ keyword, rest, line: startLine });
    // Heredoc bodies (RUN, COPY, ADD): skip every body, in order, up to its terminator line.
    if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const h of rest.matchAll(HEREDOC)) {
        const strip = h[1] === '-';
        const word = h[3]!;
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          if ((strip ? l.replace(/^\t+/, '') : l) === word) break;
        }
      }
    }
  }
  return { instructions, escapeChar, syntax };
}

/** Splits instruction arguments into words: whitespace separates, quotes group, the escape character escapes. */
function splitWords(s: string, escapeChar: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k]!;
    if (c === escapeChar && k + 1 < s.length && quote !== "'") {
      // Keep an escaped `$` escaped (a literal dollar, not an expansion).
      const next = s[++k]!;
      word += next === '$' ? '\\$' : next;
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = '';
      else word += c === '$' && quote === "'" ? '\\$' : c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/** A variable's value: a string, or `undefined` when unset, or `null` when only the build knows it. */
type Value = string | undefined | null;

/**
 * Expands `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:+a}`, `${X+a}` with `lookup`. What cannot be
 * expanded stays as written (with its `$`), so the caller can tell.
 */
export function expandVariables(word: string, lookup: (name: string) => Value): string {
  let out = '';
  for (let k = 0; k < word.length; k++) {
    const c = word[k]!;
    if (c === '\\' && word[k + 1] === '$') {
      out += '\\$';
      k++;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    const simple = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(k + 1));
    if (simple) {
      const v = lookup(simple[0]);
      out += typeof v === 'string' ? v : `$${simple[0]}`;
      k += simple[0].length;
      continue;
    }
    if (word[k + 1] === '{') {
      const close = findClose(word, k + 2);
      if (close < 0) {
        out += word.slice(k);
        break;
      }
      const body = word.slice(k + 2, close);
      const original = word.slice(k, close + 1);
      k = close;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body);
      if (!m) {
        out += original; // ${X#p}, ${X/p/r}, ${X:?e}…: left for the build to expand
        continue;
      }
      const v = lookup(m[1]!);
      const op = m[2];
      if (!op) {
        out += typeof v === 'string' ? v : original;
        continue;
      }
      if (v === null) {
        out += original;
        continue;
      }
      const alt = expandVariables(m[3] ?? '', lookup);
      const colon = op.startsWith(':');
      const set = colon ? v !== undefined && v !== '' : v !== undefined;
      if (op.endsWith('-')) out += set ? v! : alt;
      else out += set ? alt : '';
      continue;
    }
    out += c;
  }
  return out;
}

function findClose(s: string, from: number): number {
  let depth = 1;
  for (let k = from; k < s.length; k++) {
    if (s[k] === '{') depth++;
    else if (s[k] === '}' && --depth === 0) return k;
  }
  return -1;
}

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
function flagImages(rest: string, escapeChar: string): string[] {
  const out: string[] = [];
  for (const w of splitWords(rest, escapeChar)) {
    if (!w.startsWith('--')) break;
    const from = /^--from=(.+)$/.exec(w);
    if (from) out.push(from[1]!);
    const mount = /^--mount=(.+)$/.exec(w);
    if (mount)
      for (const opt of mount[1]!.split(',')) {
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
  const global = new Map<string, Value>();
  const lookup = (name: string): Value => {
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
      for (const w of splitWords(ins.rest, escapeChar)) {
        const eq = w.indexOf('=');
        const name = eq < 0 ? w : w.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
        // An unset declared ARG is undefined: `$X` stays unresolved, `${X:-d}` is d.
        global.set(name, eq < 0 ? undefined : expandVariables(w.slice(eq + 1), lookup));
      }
      continue;
    }
    if (ins.keyword === 'FROM') {
      sawFrom = true;
      const words = splitWords(ins.rest, escapeChar).filter((w) => !w.startsWith('--'));
      const image = words[0];
      if (!image) continue;
      addImage(image, true);
      if (words.length >= 3 && words[1]!.toLowerCase() === 'as') stages.push(words[2]!.toLowerCase());
      continue;
    }
    if (ins.keyword === 'COPY' || ins.keyword === 'RUN')
      for (const image of flagImages(ins.rest, escapeChar)) addImage(image, false);
  }
  return { hosts, unresolved };
}
