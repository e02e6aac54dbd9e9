// A parser for the part of HCL's native syntax that bake files use: bodies of attributes and
// labelled blocks, and expressions (literals, templates with interpolation, heredocs, tuples,
// objects, traversals, function calls, operators, conditionals, for-expressions). Every node
// keeps its line so errors can point at file:line. Template directives (%{ if }) and splats are
// refused by name rather than misread.
import { BakeError } from './errors.js';

export type Expr =
  | { k: 'lit'; v: unknown; line: number }
  | { k: 'tmpl'; parts: (string | Expr)[]; line: number }
  | { k: 'var'; name: string; line: number }
  | { k: 'attr'; obj: Expr; name: string; line: number }
  | { k: 'index'; obj: Expr; idx: Expr; line: number }
  | { k: 'call'; name: string; args: Expr[]; expand: boolean; line: number }
  | { k: 'tuple'; items: Expr[]; line: number }
  | { k: 'object'; items: { key: Expr; value: Expr }[]; line: number }
  | { k: 'unary'; op: '!' | '-'; e: Expr; line: number }
  | { k: 'binary'; op: string; l: Expr; r: Expr; line: number }
  | { k: 'cond'; c: Expr; t: Expr; f: Expr; line: number }
  | {
      k: 'for';
      keyVar?: string;
      valVar: string;
      coll: Expr;
      key?: Expr;
      value: Expr;
      cond?: Expr;
      group: boolean;
      object: boolean;
      line: number;
    };

export interface Attribute {
  name: string;
  expr: Expr;
  line: number;
}

export interface Block {
  type: string;
  labels: string[];
  body: Body;
  line: number;
}

export interface Body {
  attrs: Attribute[];
  blocks: Block[];
}

const ID_START = /[A-Za-z_]/;
const ID_CHAR = /[A-Za-z0-9_-]/;

/** Parses an HCL native-syntax file into its top-level body. */
export function parseHcl(src: string, file: string): Body {
  const p = new Parser(src, file);
  const body = p.body(false);
  return body;
}

/** Parses a string as an HCL template (as JSON bake files' strings are read). */
export function parseTemplate(src: string, file: string, line: number): Expr {
  const p = new Parser(src, file);
  return p.templateUntil(null, line, false);
}

class Parser {
  private pos = 0;
  private lineStarts: number[] = [0];
  /** Whether newlines end the current construct (bodies, objects) or are just spacing. */
  private nlStack: boolean[] = [true];

  constructor(
    private readonly src: string,
    private readonly file: string,
  ) {
    for (let i = 0; i < src.length; i++) if (src[i] === '\n') this.lineStarts.push(i + 1);
  }

  line(at = this.pos): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  fail(msg: string, at = this.pos): never {
    throw new BakeError('bake_syntax', `${this.file}:${this.line(at)}: ${msg}`);
  }

  private get nlSensitive(): boolean {
    return this.nlStack[this.nlStack.length - 1] ?? true;
  }

  /** Skips blanks and comments; newlines too unless they are significant here. */
  ws(skipNewlines = !this.nlSensitive): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r') this.pos++;
      else if (c === '\n' && skipNewlines) this.pos++;
      else if (c === '#' || (c === '/' && s[this.pos + 1] === '/')) {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
      } else if (c === '/' && s[this.pos + 1] === '*') {
        const end = s.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 2;
      } else break;
    }
  }

  private peek(n = 0): string {
    return this.src[this.pos + n] ?? '';
  }

  private startsWith(t: string): boolean {
    return this.src.startsWith(t, this.pos);
  }

  private expect(t: string): void {
    this.ws();
    if (!this.startsWith(t)) this.fail(`expected "${t}"${this.found()}`);
    this.pos += t.length;
  }

  private found(): string {
    if (this.pos >= this.src.length) return ', found the end of the file';
    const c = this.peek();
    return c === '\n' ? ', found a new line' : `, found "${c}"`;
  }

  private ident(): string {
    const start = this.pos;
    if (!ID_START.test(this.peek())) this.fail(`expected a name${this.found()}`);
    while (this.pos < this.src.length && ID_CHAR.test(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  body(inBlock: boolean): Body {
    const body: Body = { attrs: [], blocks: [] };
    this.nlStack.push(true);
    for (;;) {
      this.ws(true);
      if (this.pos >= this.src.length) {
        if (inBlock) this.fail('unclosed block: expected "}"');
        break;
      }
      if (this.peek() === '}') {
        if (!inBlock) this.fail('unexpected "}"');
        this.pos++;
        break;
      }
      const at = this.pos;
      const name = this.ident();
      this.ws(false);
      if (this.peek() === '=' && this.peek(1) !== '=') {
        this.pos++;
        const expr = this.expr();
        body.attrs.push({ name, expr, line: this.line(at) });
        this.ws(false);
        const c = this.peek();
        if (c !== '\n' && c !== '}' && this.pos < this.src.length)
          this.fail(`expected a new line after the value of "${name}"${this.found()}`);
        continue;
      }
      const labels: string[] = [];
      for (;;) {
        this.ws(false);
        const c = this.peek();
        if (c === '{') break;
        if (c === '"') {
          const lt = this.stringLiteral();
          if (lt.k !== 'lit') this.fail(`the label of block "${name}" must be a plain string`);
          labels.push(String(lt.v));
        } else if (ID_START.test(c)) labels.push(this.ident());
        else this.fail(`expected "=" or a block after "${name}"${this.found()}`);
      }
      this.pos++;
      const inner = this.body(true);
      body.blocks.push({ type: name, labels, body: inner, line: this.line(at) });
    }
    this.nlStack.pop();
    return body;
  }

  expr(): Expr {
    const c = this.orExpr();
    this.ws();
    if (this.peek() === '?') {
      const line = this.line();
      this.pos++;
      const t = this.expr();
      this.expect(':');
      const f = this.expr();
      return { k: 'cond', c, t, f, line };
    }
    return c;
  }

  private binaryLevel(ops: string[], next: () => Expr): Expr {
    let l = next();
    for (;;) {
      this.ws();
      // Longer operators come first in `ops`, so "<=" is never read as "<".
      const op = ops.find((o) => this.startsWith(o));
      if (!op) return l;
      const line = this.line();
      this.pos += op.length;
      const r = next();
      l = { k: 'binary', op, l, r, line };
    }
  }

  private orExpr = (): Expr => this.binaryLevel(['||'], this.andExpr);
  private andExpr = (): Expr => this.binaryLevel(['&&'], this.eqExpr);
  private eqExpr = (): Expr => this.binaryLevel(['==', '!='], this.cmpExpr);
  private cmpExpr = (): Expr => this.binaryLevel(['<=', '>=', '<', '>'], this.addExpr);
  private addExpr = (): Expr => this.binaryLevel(['+', '-'], this.mulExpr);
  private mulExpr = (): Expr => this.binaryLevel(['*', '/', '%'], this.unaryExpr);

  private unaryExpr = (): Expr => {
    this.ws();
    const c = this.peek();
    if ((c === '!' && this.peek(1) !== '=') || c === '-') {
      const line = this.line();
      this.pos++;
      return { k: 'unary', op: c as '!' | '-', e: this.unaryExpr(), line };
    }
    return this.postfix(this.primary());
  };

  private postfix(e: Expr): Expr {
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === '.' && !/[0-9]/.test(this.peek(1))) {
        const line = this.line();
        this.pos++;
        if (this.peek() === '*') this.fail('splat expressions (.*) are not supported by depot bake');
        if (/[0-9]/.test(this.peek())) {
          const start = this.pos;
          while (/[0-9]/.test(this.peek())) this.pos++;
          e = {
            k: 'index',
            obj: e,
            idx: { k: 'lit', v: Number(this.src.slice(start, this.pos)), line },
            line,
          };
        } else e = { k: 'attr', obj: e, name: this.ident(), line };
      } else if (c === '[') {
        const line = this.line();
        this.pos++;
        this.nlStack.push(false);
        this.ws();
        if (this.peek() === '*') this.fail('splat expressions ([*]) are not supported by depot bake');
        const idx = this.expr();
        this.expect(']');
        this.nlStack.pop();
        e = { k: 'index', obj: e, idx, line };
      } else return e;
    }
  }

  private primary(): Expr {
    this.ws();
    const line = this.line();
    const c = this.peek();
    if (c === '"') return this.stringLiteral();
    if (c === '<' && this.peek(1) === '<') return this.heredoc();
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.src.slice(this.pos));
      if (!m) this.fail('invalid number');
      this.pos += m[0].length;
      return { k: 'lit', v: Number(m[0]), line };
    }
    if (c === '(') {
      this.pos++;
      this.nlStack.push(false);
      const e = this.expr();
      this.expect(')');
      this.nlStack.pop();
      return e;
    }
    if (c === '[') return this.tupleOrFor();
    if (c === '{') return this.objectOrFor();
    if (ID_START.test(c)) {
      const name = this.ident();
      if (name === 'true' || name === 'false') return { k: 'lit', v: name === 'true', line };
      if (name === 'null') return { k: 'lit', v: null, line };
      if (this.peek() === '(' || (this.peek() === ':' && this.peek(1) === ':')) {
        if (this.peek() === ':') this.fail(`provider functions (${name}::…) are not supported by depot bake`);
        this.pos++;
        this.nlStack.push(false);
        const args: Expr[] = [];
        let expand = false;
        this.ws();
        while (this.peek() !== ')') {
          args.push(this.expr());
          this.ws();
          if (this.startsWith('...')) {
            expand = true;
            this.pos += 3;
            this.ws();
          }
          if (this.peek() === ',') {
            this.pos++;
            this.ws();
          } else if (this.peek() !== ')')
            this.fail(`expected "," or ")" in the call of ${name}${this.found()}`);
        }
        this.pos++;
        this.nlStack.pop();
        return { k: 'call', name, args, expand, line };
      }
      return { k: 'var', name, line };
    }
    this.fail(`expected an expression${this.found()}`);
  }

  private isForKeyword(): boolean {
    this.ws(true);
    return this.startsWith('for') && !ID_CHAR.test(this.peek(3));
  }

  private forHeader(): { keyVar?: string; valVar: string; coll: Expr } {
    this.pos += 3;
    this.ws();
    let valVar = this.ident();
    let keyVar: string | undefined;
    this.ws();
    if (this.peek() === ',') {
      this.pos++;
      this.ws();
      keyVar = valVar;
      valVar = this.ident();
    }
    this.ws();
    if (!this.startsWith('in')) this.fail(`expected "in" in a for expression${this.found()}`);
    this.pos += 2;
    const coll = this.expr();
    this.expect(':');
    return { keyVar, valVar, coll };
  }

  private forCond(): Expr | undefined {
    this.ws();
    if (this.startsWith('if') && !ID_CHAR.test(this.peek(2))) {
      this.pos += 2;
      return this.expr();
    }
    return undefined;
  }

  private tupleOrFor(): Expr {
    const line = this.line();
    this.pos++;
    this.nlStack.push(false);
    if (this.isForKeyword()) {
      const h = this.forHeader();
      const value = this.expr();
      const cond = this.forCond();
      this.expect(']');
      this.nlStack.pop();
      return { k: 'for', ...h, value, cond, group: false, object: false, line };
    }
    const items: Expr[] = [];
    this.ws();
    while (this.peek() !== ']') {
      items.push(this.expr());
      this.ws();
      if (this.peek() === ',') {
        this.pos++;
        this.ws();
      } else if (this.peek() !== ']') this.fail(`expected "," or "]" in a list${this.found()}`);
    }
    this.pos++;
    this.nlStack.pop();
    return { k: 'tuple', items, line };
  }

  private objectOrFor(): Expr {
    const line = this.line();
    this.pos++;
    if (this.isForKeyword()) {
      this.nlStack.push(false);
      const h = this.forHeader();
      const key = this.expr();
      this.expect('=>');
      const value = this.expr();
      this.ws();
      let group = false;
      if (this.startsWith('...')) {
        group = true;
        this.pos += 3;
      }
      const cond = this.forCond();
      this.expect('}');
      this.nlStack.pop();
      return { k: 'for', ...h, key, value, cond, group, object: true, line };
    }
    this.nlStack.push(true);
    const items: { key: Expr; value: Expr }[] = [];
    for (;;) {
      this.ws(true);
      if (this.peek() === '}') break;
      const keyLine = this.line();
      let key: Expr;
      // A bare name is the key itself, not a variable (HCL: { foo = 1 } has the key "foo").
      if (ID_START.test(this.peek())) {
        const save = this.pos;
        const name = this.ident();
        this.ws(false);
        if (this.peek() === '=' || this.peek() === ':') key = { k: 'lit', v: name, line: keyLine };
        else {
          this.pos = save;
          key = this.expr();
        }
      } else key = this.expr();
      this.ws(false);
      if (this.peek() !== '=' && this.peek() !== ':')
        this.fail(`expected "=" after an object key${this.found()}`);
      this.pos++;
      // The object's newline sensitivity holds: a new line ends the value.
      const value = this.expr();
      items.push({ key, value });
      this.ws(false);
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== '\n' && this.peek() !== '}')
        this.fail(`expected "," or a new line between object items${this.found()}`);
    }
    this.pos++;
    this.nlStack.pop();
    return { k: 'object', items, line };
  }

  stringLiteral(): Expr {
    const line = this.line();
    this.pos++;
    return this.templateUntil('"', line, true);
  }

  /**
   * Reads template text up to `end` (a closing quote) or the end of the input (end = null).
   * Quoted strings take backslash escapes; heredocs and JSON-sourced strings do not.
   */
  templateUntil(end: '"' | null, line: number, escapes: boolean): Expr {
    const parts: (string | Expr)[] = [];
    let lit = '';
    const s = this.src;
    for (;;) {
      if (this.pos >= s.length) {
        if (end) this.fail('unterminated string', this.lineStarts[line - 1]);
        break;
      }
      const c = s[this.pos];
      if (end && c === end) {
        this.pos++;
        break;
      }
      if (end && c === '\n')
        this.fail('unterminated string: a quoted string cannot span lines (use a heredoc)');
      if (c === '\\' && escapes) {
        const n = s[this.pos + 1] ?? '';
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
        if (n in map) {
          lit += map[n] as string;
          this.pos += 2;
        } else if (n === 'u' || n === 'U') {
          const len = n === 'u' ? 4 : 8;
          const hex = s.slice(this.pos + 2, this.pos + 2 + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) this.fail('invalid unicode escape');
          lit += String.fromCodePoint(Number.parseInt(hex, 16));
          this.pos += 2 + len;
        } else this.fail(`invalid escape "\\${n}"`);
        continue;
      }
      if ((c === '$' || c === '%') && s[this.pos + 1] === c && s[this.pos + 2] === '{') {
        lit += `${c}{`;
        this.pos += 3;
        continue;
      }
      if (c === '%' && s[this.pos + 1] === '{')
        this.fail('template directives (%{ … }) are not supported by depot bake');
      if (c === '$' && s[this.pos + 1] === '{') {
        this.pos += 2;
        if (this.peek() === '~') {
          this.fail('template strip markers (~) are not supported by depot bake');
        }
        if (lit) parts.push(lit);
        lit = '';
        this.nlStack.push(false);
        const e = this.expr();
        this.ws();
        if (this.peek() === '~') this.fail('template strip markers (~}) are not supported by depot bake');
        this.expect('}');
        this.nlStack.pop();
        parts.push(e);
        continue;
      }
      lit += c;
      this.pos++;
    }
    if (lit || parts.length === 0) parts.push(lit);
    if (parts.length === 1 && typeof parts[0] === 'string') return { k: 'lit', v: parts[0], line };
    return { k: 'tmpl', parts, line };
  }

  private heredoc(): Expr {
    const line = this.line();
    this.pos += 2;
    let flush = false;
    if (this.peek() === '-') {
      flush = true;
      this.pos++;
    }
    const marker = this.ident();
    const eol = this.src.indexOf('\n', this.pos);
    if (eol < 0) this.fail('unterminated heredoc');
    if (this.src.slice(this.pos, eol).trim() !== '')
      this.fail('expected a new line after the heredoc marker');
    const start = eol + 1;
    // The body ends at the first line that holds only the marker (leading blanks allowed).
    let at = start;
    let bodyEnd = -1;
    let after = -1;
    while (at <= this.src.length) {
      const nl = this.src.indexOf('\n', at);
      const lineEnd = nl < 0 ? this.src.length : nl;
      if (this.src.slice(at, lineEnd).trim() === marker) {
        bodyEnd = at;
        after = lineEnd;
        break;
      }
      if (nl < 0) break;
      at = nl + 1;
    }
    if (bodyEnd < 0) this.fail(`unterminated heredoc: no line with "${marker}" alone`, start);
    let text = this.src.slice(start, bodyEnd);
    if (flush) {
      const lines = text.split('\n');
      const indents = lines
        .slice(0, -1)
        .filter((l) => l.trim() !== '')
        .map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
      const cut = indents.length ? Math.min(...indents) : 0;
      text = lines.map((l) => l.slice(Math.min(cut, /^[ \t]*/.exec(l)?.[0].length ?? 0))).join('\n');
    }
    const sub = new Parser(text, this.file);
    let e: Expr;
    try {
      e = sub.templateUntil(null, line + 1, false);
    } catch (err) {
      if (err instanceof BakeError) this.fail(err.message.replace(/^[^:]*:\d+: /, ''), start);
      throw err;
    }
    this.pos = after;
    return e.k === 'lit' || e.k === 'tmpl' ? { ...e, line } : e;
  }
}
