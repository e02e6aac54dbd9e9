/**
 * The Dockerfile parser: the one place that splits Dockerfile text into instructions — parser
 * directives, the escape character, line continuations, heredoc bodies, flags, words and line
 * numbers — the way BuildKit's Dockerfile frontend does (frontend/dockerfile/parser: parser.go,
 * split_command.go, line_parsers.go). Everything that reads a Dockerfile (stages and steps, the
 * context paths it reads, sync rules, base-image registries, the builder's image names and result
 * memo, the advisor, the smart cache) goes through it. Pure and dependency-free.
 *
 * Hand-written rather than dockerfile-ast (a language-server parser): parser-fidelity.test.ts runs
 * both over a corpus of tricky Dockerfiles whose BuildKit 0.8 readings are recorded (and checked
 * against a real engine by test/integration/dockerfile-parser.test.ts): this one reads each as
 * BuildKit does, and the test lists where dockerfile-ast departs.
 */

/** One heredoc of a RUN/COPY/ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`): its body is no instruction. */
export interface Heredoc {
  /** The terminator word, quotes removed. */
  name: string;
  /** `<<-`: leading tabs of the body and the terminator line are stripped. */
  chomp: boolean;
  /** The body as written, one `\n` after each line, the terminator line excluded. */
  body: string;
}

/** A `--name[=value]` word before an instruction's arguments: name lowercased, value unquoted. */
export type Flag = [name: string, value: string];

/** One instruction of a Dockerfile. */
export interface Instruction {
  /** Upper case, as written otherwise (an unknown keyword is kept; BuildKit refuses it). */
  keyword: string;
  /** The arguments as written, flags included, continuations joined (their comment and empty lines dropped), trimmed. */
  rest: string;
  /** 1-based line of the keyword. */
  line: number;
  /** 1-based last line, continuations and heredoc bodies included. */
  endLine: number;
  /** RUN/COPY/ADD (also under ONBUILD) heredocs, in order; [] for the others. */
  heredocs: Heredoc[];
  /**
   * Where `rest.slice(start, end)` is written: a 0-based line and columns of that line (of the
   * text as given, `\r` and a byte-order mark counted), or undefined when it spans a line break.
   */
  sourceRange(start: number, end: number): { line: number; start: number; end: number } | undefined;
}

export interface ParsedDockerfile {
  instructions: Instruction[];
  /** `\` or a backtick (`# escape=`). */
  escapeChar: string;
  /** The `# syntax=` frontend image, '' when none. */
  syntax: string;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
// BuildKit splits a command from its arguments on these (not on every Unicode space).
const COMMAND_SPACE = /[\t\v\f\r ]+/;
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/;

const isComment = (line: string) => line.trimStart().startsWith('#');

/**
 * Splits a Dockerfile into instructions as BuildKit's parser does: parser directives at the top
 * (`# escape=`, `# syntax=`; any other key, a blank line or an instruction ends them, though the
 * frontend's `# syntax=` is looked for past other keys), comments, line continuations with the
 * escape character (a doubled escape character at the end of a line is no continuation; comment
 * and empty lines inside a continuation are skipped), and heredoc bodies of RUN, COPY and ADD
 * (Dockerfile syntax 1.4 and later), which are not instructions. Never throws: what BuildKit would
 * refuse (a repeated directive, an unknown instruction) is read as best it can.
 */
export function parseInstructions(text: string): ParsedDockerfile {
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  // Go's line scanner: lines end at \n, one \r before it is dropped, no line after a final \n.
  const lines = text
    .slice(bom)
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (text.endsWith('\n')) lines.pop();
  let escapeChar = '\\';
  let syntax = '';
  let continuation = continuationRegex(escapeChar);
  let directivesDone = false;
  const seen = new Set<string>();
  const directive = (line: string) => {
    if (directivesDone) return;
    const m = DIRECTIVE.exec(line);
    const key = m?.[1]?.toLowerCase() ?? '';
    if (!m || (key !== 'escape' && key !== 'syntax') || seen.has(key)) {
      directivesDone = true;
      return;
    }
    seen.add(key);
    if (key === 'escape' && (m[2] === '`' || m[2] === '\\')) {
      escapeChar = m[2];
      continuation = continuationRegex(escapeChar);
    }
  };
  /** `line` without its continuation character, and whether the instruction goes on. */
  const trimContinuation = (line: string): [string, boolean] =>
    continuation.test(line) ? [line.replace(continuation, '$1'), true] : [line, false];

  // BuildKit reads the frontend apart from the other directives (dockerfile2llb.DetectSyntax): on
  // the lines as written, while they are `# key=value` of any key, the last `syntax` winning.
  if (!bom)
    for (const line of lines) {
      const m = DIRECTIVE.exec(line);
      if (!m) break;
      if (m[1]!.toLowerCase() === 'syntax') syntax = m[2]!.split(' ', 1)[0]!;
    }
  const instructions: Instruction[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    const startLine = ++i;
    const content = raw.trimStart();
    directive(content);
    // Where each piece of the joined line comes from: [offset in it, line, column].
    const pieces: Array<[number, number, number]> = [];
    let [logical, more] = trimContinuation(isComment(raw) ? '' : content);
    if (!more && logical === '') continue;
    pieces.push([0, startLine - 1, raw.length - content.length + (startLine === 1 ? bom : 0)]);
    while (more && i < lines.length) {
      const next = lines[i]!;
      i++;
      directive(next);
      if (isComment(next) || next.trim() === '') continue;
      pieces.push([logical.length, i - 1, 0]);
      let piece: string;
      [piece, more] = trimContinuation(next);
      logical += piece;
    }
    const lead = logical.length - logical.trimStart().length;
    const [command = '', ...after] = logical.trim().split(COMMAND_SPACE);
    const keyword = command.toUpperCase();
    const restStart = after.length ? logical.indexOf(after[0]!, lead + command.length) : logical.length;
    const rest = after.length ? logical.slice(restStart).trimEnd() : '';
    const heredocs: Heredoc[] = [];
    const inner = keyword === 'ONBUILD' ? (rest.split(COMMAND_SPACE, 1)[0] ?? '').toUpperCase() : keyword;
    if (HEREDOC_KEYWORDS.has(inner) && logical.includes('<<')) {
      for (const doc of heredocWords(logical)) {
        const body: string[] = [];
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          if ((doc.chomp ? l.replace(/^\t+/, '') : l) === doc.name) break;
          body.push(`${l}\n`);
        }
        heredocs.push({ ...doc, body: body.join('') });
      }
    }
    instructions.push({
      keyword,
      rest,
      line: startLine,
      endLine: i,
      heredocs,
      sourceRange: (start, end) => {
        const from = restStart + start;
        const to = restStart + end;
        let k = pieces.length - 1;
        while (k > 0 && pieces[k]![0] > from) k--;
        const [at, line, column] = pieces[k]!;
        // The range must lie within the piece (the next piece starts on another line).
        if (end <= start || (k + 1 < pieces.length && pieces[k + 1]![0] < to)) return undefined;
        return { line, start: column + from - at, end: column + to - at };
      },
    });
  }
  return { instructions, escapeChar, syntax };
}

/**
 * The escape character ends a line that goes on, unless it is itself escaped (BuildKit's regular
 * expression, which also takes an escape character alone on its line).
 */
function continuationRegex(escapeChar: string): RegExp {
  const e = escapeChar === '\\' ? '\\\\' : escapeChar;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/**
 * The heredocs a RUN/COPY/ADD line opens, in order: each shell word (quotes kept) of the form
 * `[n]<<[-]WORD`, WORD unquoted being the terminator (BuildKit's heredocsFromLine).
 */
function heredocWords(line: string): Array<Omit<Heredoc, 'body'>> {
  const out: Array<Omit<Heredoc, 'body'>> = [];
  for (const word of rawWords(line, '\\')) {
    const m = HEREDOC_WORD.exec(word);
    if (!m || m[3] === '') continue;
    const names = splitWords(m[3]!, '\\');
    if (names.length !== 1) continue;
    out.push({ name: names[0]!.replace(/\\\$/g, '$'), chomp: m[2] === '-' });
  }
  return out;
}

/**
 * Words separated by unquoted whitespace, quotes and escapes kept as written (BuildKit's parseWords,
 * the first step of reading ARG, ENV and LABEL).
 */
export function rawWords(s: string, escapeChar: string): string[] {
  const out: string[] = [];
  let word = '';
  let quote = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k]!;
    if (!quote && /\s/.test(c)) {
      if (word) out.push(word);
      word = '';
      continue;
    }
    if (c === escapeChar && quote !== "'") {
      if (k + 1 === s.length) continue; // an escape character at the end is dropped
      word += c + s[++k]!;
      continue;
    }
    if (quote && c === quote) quote = '';
    else if (!quote && (c === '"' || c === "'")) quote = c;
    word += c;
  }
  if (word) out.push(word);
  return out;
}

/**
 * Splits arguments into words with quotes removed: whitespace separates, quotes group, the escape
 * character escapes. A `$` that must stay literal (escaped, or in single quotes) comes out as `\$`,
 * which expandVariables leaves alone.
 */
export function splitWords(s: string, escapeChar: string): string[] {
  return unquote(s, escapeChar, true);
}

/** One word's value (an ARG default, an ENV value): splitWords without splitting. */
export function wordValue(raw: string, escapeChar: string): string {
  return unquote(raw, escapeChar, false)[0] ?? '';
}

function unquote(s: string, escapeChar: string, split: boolean): string[] {
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
    } else if (split && /\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord || !split) out.push(word);
  return out;
}

/**
 * An instruction's leading `--name[=value]` words (names lowercased; quotes and backslash escapes
 * of the value removed, as BuildKit's extractBuilderFlags does; a lone `--` ends them) and the text
 * after them. `valueAt[i]`: where flag i's value starts in `rest` when it is written as it reads
 * (no quote or escape), else -1.
 */
export function flagsOf(rest: string): { flags: Flag[]; args: string; valueAt: number[] } {
  const flags: Flag[] = [];
  const valueAt: number[] = [];
  let k = 0;
  for (;;) {
    while (k < rest.length && /\s/.test(rest[k]!)) k++;
    if (!rest.startsWith('--', k)) break;
    const start = k;
    let word = '';
    let quote = '';
    for (; k < rest.length; k++) {
      const c = rest[k]!;
      if (!quote && /\s/.test(c)) break;
      if (quote && c === quote) quote = '';
      else if (!quote && (c === '"' || c === "'")) quote = c;
      else if (c === '\\' && k + 1 < rest.length) word += rest[++k];
      else if (c !== '\\') word += c;
    }
    if (word === '--') break;
    const eq = word.indexOf('=');
    flags.push(
      eq < 0 ? [word.slice(2).toLowerCase(), ''] : [word.slice(2, eq).toLowerCase(), word.slice(eq + 1)],
    );
    valueAt.push(eq >= 0 && rest.slice(start, k) === word ? start + eq + 1 : -1);
  }
  return { flags, args: rest.slice(k).trim(), valueAt };
}

/** `--name=value` (quoted when it needs to be), for writing an instruction back with its flags. */
export function flagText([name, value]: Flag): string {
  if (value === '') return `--${name}`;
  return /[\s"'\\]/.test(value) ? `--${name}=${JSON.stringify(value)}` : `--${name}=${value}`;
}

/**
 * The words of an exec-form argument list (`["a", "b"]`), or undefined when the text is not one
 * (BuildKit then reads the shell form). Like BuildKit, only the first JSON value counts.
 */
export function jsonWords(args: string): string[] | undefined {
  const text = args.trimStart();
  if (!text.startsWith('[')) return undefined;
  let depth = 0;
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k]!;
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) {
      try {
        const parsed: unknown = JSON.parse(text.slice(0, k + 1));
        return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? parsed : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The words of a COPY/ADD argument text (flags already removed), as BuildKit splits them: the
 * sources, then the destination last. Variables are not expanded yet.
 */
export function copyWords(args: string): string[] {
  // Shell form: BuildKit splits on whitespace, then expands each word.
  return jsonWords(args) ?? args.split(/\s+/).filter(Boolean);
}

/**
 * A FROM's image word as written, where it starts in `rest` (-1: none), and its stage name
 * (lowercased; '' when it has no `AS name`).
 */
export function fromParts(rest: string): { image: string; imageAt: number; stage: string } {
  const { args } = flagsOf(rest);
  const words = args.split(/\s+/).filter(Boolean);
  return {
    image: words[0] ?? '',
    // `rest` has no trailing space, so the arguments are its end.
    imageAt: words.length ? rest.length - args.length : -1,
    stage: words.length >= 3 && words[1]!.toLowerCase() === 'as' ? words[2]!.toLowerCase() : '',
  };
}

/**
 * The `name[=value]` declarations of an ARG, ENV or LABEL, values with quotes removed and escapes
 * applied (undefined: declared without a value). ENV and LABEL also take the old `NAME value` form.
 */
export function declarations(
  keyword: string,
  args: string,
  escapeChar: string,
): Array<[name: string, value: string | undefined]> {
  const words = rawWords(args, escapeChar);
  if (keyword !== 'ARG' && words.length > 0 && !words[0]!.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(args.trim());
    return m ? [[m[1]!, wordValue(m[2]!.trim(), escapeChar)]] : [];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, undefined] : [w.slice(0, eq), wordValue(w.slice(eq + 1), escapeChar)];
  });
}

/** A variable's value: a string, or `undefined` when unset, or `null` when only the build knows it. */
export type VariableValue = string | undefined | null;

/**
 * Expands `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:+a}`, `${X+a}` with `lookup`. What cannot be
 * expanded stays as written (with its `$`), so the caller can tell.
 */
export function expandVariables(word: string, lookup: (name: string) => VariableValue): string {
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

/** The names of the variables `text` refers to (`$X`, `${X}`, `${X:-d}`…), escaped dollars skipped, in order, once each. */
export function variableNames(text: string, escapeChar: string): string[] {
  const names = new Set<string>();
  for (let k = 0; k < text.length; k++) {
    if (text[k] === escapeChar) {
      k++;
      continue;
    }
    if (text[k] !== '$') continue;
    const m = /^\{?([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(k + 1));
    if (m) names.add(m[1]!);
  }
  return [...names];
}

function findClose(s: string, from: number): number {
  let depth = 1;
  for (let k = from; k < s.length; k++) {
    if (s[k] === '{') depth++;
    else if (s[k] === '}' && --depth === 0) return k;
  }
  return -1;
}
