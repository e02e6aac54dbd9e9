// Evaluates HCL expressions for bake files: the operators, templates and the functions bake files
// commonly use. Values follow HCL's (cty's) rules where they show: numbers and bools become strings
// where a string is wanted, a template made of one interpolation keeps the value's own type,
// values of different types are never equal. Anything outside the subset is an error naming it.
import { BakeError } from './errors.js';
import type { Expr } from './hcl-parser.js';

export type Value = null | string | number | boolean | Value[] | { [key: string]: Value };

/** Where names come from while evaluating one expression. */
export interface EvalContext {
  file: string;
  /** The value of a variable (or `target`), or undefined when there is none of that name. */
  lookup(name: string, line: number): Value | undefined;
  /** A time fixed for the whole run (timestamp()). */
  now?: Date;
}

export function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (isObject(v)) return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

/** HCL's number → string conversion (integers without a decimal point). */
export function numberToString(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  return String(n);
}

/** Converts a value where a string is required (as cty converts number and bool). */
export function asString(v: Value, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return numberToString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw new Error(`${what} must be a string, not ${typeName(v)}`);
}

export function asBool(v: Value, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Error(`${what} must be a bool, not ${typeName(v)}${typeof v === 'string' ? ` "${v}"` : ''}`);
}

function asNumber(v: Value, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw new Error(`${what} must be a number, not ${typeName(v)}${typeof v === 'string' ? ` "${v}"` : ''}`);
}

function asList(v: Value, what: string): Value[] {
  if (Array.isArray(v)) return v;
  throw new Error(`${what} must be a list, not ${typeName(v)}`);
}

export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => valuesEqual(x, b[i] as Value));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return valuesEqual(ka, kb) && ka.every((k) => valuesEqual(a[k] as Value, b[k] as Value));
  }
  return false;
}

type Fn = (args: Value[], ctx: EvalContext) => Value;

function arity(name: string, args: Value[], min: number, max = min): void {
  if (args.length < min || args.length > max)
    throw new Error(
      `${name}() takes ${min === max ? min : `${min} to ${max === Number.POSITIVE_INFINITY ? 'any number of' : max}`} argument${max === 1 ? '' : 's'}, got ${args.length}`,
    );
}

const str1 =
  (name: string, f: (s: string) => string): Fn =>
  (a) => {
    arity(name, a, 1);
    return f(asString(a[0]!, `${name}()'s argument`));
  };
const str2 =
  (name: string, f: (s: string, t: string) => string): Fn =>
  (a) => {
    arity(name, a, 2);
    return f(asString(a[0]!, `${name}()'s first argument`), asString(a[1]!, `${name}()'s second argument`));
  };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's time.RFC3339 rendering of a UTC time (no fractional seconds). */
export function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** formatdate(spec, timestamp) for UTC timestamps, with the spec letters of HCL's stdlib. */
function formatDate(spec: string, ts: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) throw new Error(`formatdate(): "${ts}" is not an RFC 3339 timestamp`);
  const d = new Date(ts);
  const z = m[8] ?? 'Z';
  const zoneMin =
    z.toUpperCase() === 'Z'
      ? 0
      : (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(4, 6)));
  const local = new Date(d.getTime() + zoneMin * 60_000);
  const Y = local.getUTCFullYear();
  const M = local.getUTCMonth();
  const D = local.getUTCDate();
  const h = local.getUTCHours();
  const min = local.getUTCMinutes();
  const s = local.getUTCSeconds();
  const zone = zoneMin === 0 ? 'Z' : z;
  // A switch, not an object of functions: the sequence letters read as component names to the linter.
  const token = (run: string): string | undefined => {
    switch (run) {
      case 'YYYY':
        return pad(Y, 4);
      case 'YY':
        return pad(Y % 100);
      case 'MMMM':
        return MONTHS[M] as string;
      case 'MMM':
        return (MONTHS[M] as string).slice(0, 3);
      case 'MM':
        return pad(M + 1);
      case 'M':
        return String(M + 1);
      case 'DD':
        return pad(D);
      case 'D':
        return String(D);
      case 'EEEE':
        return DAYS[local.getUTCDay()] as string;
      case 'EEE':
        return (DAYS[local.getUTCDay()] as string).slice(0, 3);
      case 'hh':
        return pad(h);
      case 'h':
        return String(h);
      case 'HH':
        return pad(h % 12 === 0 ? 12 : h % 12);
      case 'H':
        return String(h % 12 === 0 ? 12 : h % 12);
      case 'AA':
        return h < 12 ? 'AM' : 'PM';
      case 'aa':
        return h < 12 ? 'am' : 'pm';
      case 'mm':
        return pad(min);
      case 'm':
        return String(min);
      case 'ss':
        return pad(s);
      case 's':
        return String(s);
      case 'ZZZZZ':
        return zoneMin === 0 ? '+00:00' : z;
      case 'ZZZZ':
        return zoneMin === 0 ? '+0000' : z.replace(':', '');
      case 'ZZZ':
        return zoneMin === 0 ? 'UTC' : z.replace(':', '');
      case 'Z':
        return zone;
    }
    return undefined;
  };

  let out = '';
  let i = 0;
  while (i < spec.length) {
    const c = spec[i] as string;
    if (c === "'") {
      const end = spec.indexOf("'", i + 1);
      if (end < 0) throw new Error('formatdate(): unterminated quoted literal in the format');
      out += end === i + 1 ? "'" : spec.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (spec[j] === c) j++;
      const run = spec.slice(i, j);
      const t = token(run);
      if (t === undefined) throw new Error(`formatdate(): "${run}" is not a supported date format sequence`);
      out += t;
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function format(args: Value[]): string {
  if (args.length === 0) throw new Error('format() needs a format string');
  const spec = asString(args[0] as Value, "format()'s first argument");
  let n = 1;
  return spec.replace(/%([%sdvq])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) throw new Error('format(): too few arguments for the format string');
    const v = args[n++] as Value;
    if (verb === 'd') return numberToString(Math.trunc(asNumber(v, 'format() %d argument')));
    if (verb === 'q') return JSON.stringify(asString(v, 'format() %q argument'));
    return asString(v, 'format() argument');
  });
}

const FUNCTIONS: Record<string, Fn> = {
  lower: str1('lower', (s) => s.toLowerCase()),
  upper: str1('upper', (s) => s.toUpperCase()),
  title: str1('title', (s) =>
    s.replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_, a: string, b: string) => a + b.toUpperCase()),
  ),
  trimspace: str1('trimspace', (s) => s.trim()),
  trimprefix: str2('trimprefix', (s, p) => (s.startsWith(p) ? s.slice(p.length) : s)),
  trimsuffix: str2('trimsuffix', (s, p) => (p && s.endsWith(p) ? s.slice(0, -p.length) : s)),
  trim: str2('trim', (s, cut) => {
    let a = 0;
    let b = s.length;
    while (a < b && cut.includes(s[a] as string)) a++;
    while (b > a && cut.includes(s[b - 1] as string)) b--;
    return s.slice(a, b);
  }),
  replace: (a) => {
    arity('replace', a, 3);
    const [s, sub, rep] = a.map((v, i) => asString(v, `replace()'s argument ${i + 1}`)) as [
      string,
      string,
      string,
    ];
    return sub === '' ? s : s.split(sub).join(rep);
  },
  substr: (a) => {
    arity('substr', a, 3);
    const chars = [...asString(a[0]!, "substr()'s first argument")];
    let off = asNumber(a[1]!, "substr()'s offset");
    const len = asNumber(a[2]!, "substr()'s length");
    if (off < 0) off = Math.max(0, chars.length + off);
    return chars.slice(off, len < 0 ? undefined : off + len).join('');
  },
  strlen: str1('strlen', (s) => String([...s].length)),
  join: (a) => {
    if (a.length < 2) throw new Error('join() takes a separator and at least one list');
    const sep = asString(a[0]!, "join()'s separator");
    return a
      .slice(1)
      .flatMap((l) => asList(l, "join()'s list"))
      .map((v) => asString(v, "join()'s list element"))
      .join(sep);
  },
  split: (a) => {
    arity('split', a, 2);
    return asString(a[1]!, "split()'s string").split(asString(a[0]!, "split()'s separator"));
  },
  format: (a) => format(a),
  equal: (a) => {
    arity('equal', a, 2);
    return valuesEqual(a[0]!, a[1]!);
  },
  notequal: (a) => {
    arity('notequal', a, 2);
    return !valuesEqual(a[0]!, a[1]!);
  },
  and: (a) => {
    arity('and', a, 2);
    return asBool(a[0]!, "and()'s argument") && asBool(a[1]!, "and()'s argument");
  },
  or: (a) => {
    arity('or', a, 2);
    return asBool(a[0]!, "or()'s argument") || asBool(a[1]!, "or()'s argument");
  },
  not: (a) => {
    arity('not', a, 1);
    return !asBool(a[0]!, "not()'s argument");
  },
  coalesce: (a) => {
    const allStrings = a.every((v) => v === null || typeof v === 'string');
    for (const v of a) {
      if (v === null || (allStrings && v === '')) continue;
      return v;
    }
    throw new Error('coalesce(): no non-null arguments');
  },
  concat: (a) => a.flatMap((l) => asList(l, "concat()'s argument")),
  contains: (a) => {
    arity('contains', a, 2);
    return asList(a[0]!, "contains()'s first argument").some((v) => valuesEqual(v, a[1]!));
  },
  length: (a) => {
    arity('length', a, 1);
    const v = a[0]!;
    if (typeof v === 'string') return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (isObject(v)) return Object.keys(v).length;
    throw new Error(`length() of ${typeName(v)}`);
  },
  compact: (a) => {
    arity('compact', a, 1);
    return asList(a[0]!, "compact()'s argument").filter((v) => v !== null && v !== '');
  },
  distinct: (a) => {
    arity('distinct', a, 1);
    const out: Value[] = [];
    for (const v of asList(a[0]!, "distinct()'s argument"))
      if (!out.some((o) => valuesEqual(o, v))) out.push(v);
    return out;
  },
  keys: (a) => {
    arity('keys', a, 1);
    if (!isObject(a[0]!)) throw new Error('keys() needs an object or map');
    return Object.keys(a[0]!).sort();
  },
  values: (a) => {
    arity('values', a, 1);
    const o = a[0]!;
    if (!isObject(o)) throw new Error('values() needs an object or map');
    return Object.keys(o)
      .sort()
      .map((k) => o[k] as Value);
  },
  lookup: (a) => {
    arity('lookup', a, 2, 3);
    const o = a[0]!;
    if (!isObject(o)) throw new Error('lookup() needs an object or map');
    const k = asString(a[1]!, "lookup()'s key");
    if (Object.hasOwn(o, k)) return o[k] as Value;
    if (a.length === 3) return a[2] as Value;
    throw new Error(`lookup(): no key "${k}" and no default`);
  },
  merge: (a) => {
    const out: { [k: string]: Value } = {};
    for (const o of a) {
      if (o === null) continue;
      if (!isObject(o)) throw new Error('merge() takes objects or maps');
      Object.assign(out, o);
    }
    return out;
  },
  element: (a) => {
    arity('element', a, 2);
    const l = asList(a[0]!, "element()'s list");
    if (l.length === 0) throw new Error('element() of an empty list');
    const i = asNumber(a[1]!, "element()'s index");
    return l[((i % l.length) + l.length) % l.length] as Value;
  },
  timestamp: (a, ctx) => {
    arity('timestamp', a, 0);
    return rfc3339(ctx.now ?? new Date());
  },
  formatdate: (a) => {
    arity('formatdate', a, 2);
    return formatDate(asString(a[0]!, "formatdate()'s format"), asString(a[1]!, "formatdate()'s timestamp"));
  },
};

/** The names of the functions bake files may call in depot. */
export const SUPPORTED_FUNCTIONS = Object.keys(FUNCTIONS).sort();

/** file:line, or just the file where the line is not known (JSON files). */
export function where(file: string, line: number): string {
  return line > 0 ? `${file}:${line}` : file;
}

function fail(ctx: EvalContext, line: number, msg: string, hint?: string): never {
  throw new BakeError('bake_eval', `${where(ctx.file, line)}: ${msg}`, hint);
}

/** Evaluates an expression; errors name the file, the line and what is wrong. */
export function evaluate(e: Expr, ctx: EvalContext): Value {
  try {
    return evalExpr(e, ctx);
  } catch (err) {
    if (err instanceof BakeError) throw err;
    fail(ctx, e.line, (err as Error).message);
  }
}

function evalExpr(e: Expr, ctx: EvalContext): Value {
  const sub = (x: Expr): Value => {
    try {
      return evalExpr(x, ctx);
    } catch (err) {
      if (err instanceof BakeError) throw err;
      fail(ctx, x.line, (err as Error).message);
    }
  };
  switch (e.k) {
    case 'lit':
      return e.v as Value;
    case 'tmpl': {
      if (e.parts.length === 1 && typeof e.parts[0] !== 'string') return sub(e.parts[0] as Expr);
      let out = '';
      for (const p of e.parts) {
        if (typeof p === 'string') out += p;
        else {
          const v = sub(p);
          if (v === null) fail(ctx, p.line, 'a template interpolation is null');
          if (typeof v === 'object')
            fail(ctx, p.line, `cannot put a ${typeName(v)} inside a string template`);
          out += asString(v, 'interpolation');
        }
      }
      return out;
    }
    case 'var': {
      const v = ctx.lookup(e.name, e.line);
      if (v === undefined)
        fail(
          ctx,
          e.line,
          `unknown variable "${e.name}"`,
          'declare it with variable "NAME" { default = "…" }',
        );
      return v;
    }
    case 'attr': {
      const o = sub(e.obj);
      if (!isObject(o)) fail(ctx, e.line, `cannot read ".${e.name}" of a ${typeName(o)}`);
      if (!(e.name in o)) fail(ctx, e.line, `no attribute "${e.name}"`);
      return o[e.name] as Value;
    }
    case 'index': {
      const o = sub(e.obj);
      const i = sub(e.idx);
      if (Array.isArray(o)) {
        const n = asNumber(i, 'a list index');
        if (!Number.isInteger(n) || n < 0 || n >= o.length) fail(ctx, e.line, `index ${n} is out of range`);
        return o[n] as Value;
      }
      if (isObject(o)) {
        const k = asString(i, 'an object key');
        if (!(k in o)) fail(ctx, e.line, `no key "${k}"`);
        return o[k] as Value;
      }
      fail(ctx, e.line, `cannot index a ${typeName(o)}`);
      break;
    }
    case 'call': {
      const f = FUNCTIONS[e.name];
      if (!f)
        fail(
          ctx,
          e.line,
          `function "${e.name}" is not supported by depot bake`,
          `supported: ${SUPPORTED_FUNCTIONS.join(', ')}`,
        );
      let args = e.args.map(sub);
      if (e.expand) {
        const last = args[args.length - 1] ?? null;
        args = [...args.slice(0, -1), ...asList(last, 'the expanded argument')];
      }
      return f(args, ctx);
    }
    case 'tuple':
      return e.items.map(sub);
    case 'object': {
      const out: { [k: string]: Value } = {};
      for (const it of e.items) out[asString(sub(it.key), 'an object key')] = sub(it.value);
      return out;
    }
    case 'unary': {
      const v = sub(e.e);
      return e.op === '!' ? !asBool(v, 'the operand of "!"') : -asNumber(v, 'the operand of "-"');
    }
    case 'binary':
      return binary(e.op, e.l, e.r, sub);
    case 'cond':
      return asBool(sub(e.c), 'a condition') ? sub(e.t) : sub(e.f);
    case 'for':
      return forExpr(e, ctx);
  }
}

function binary(op: string, l: Expr, r: Expr, sub: (x: Expr) => Value): Value {
  if (op === '&&') return asBool(sub(l), 'the operand of "&&"') && asBool(sub(r), 'the operand of "&&"');
  if (op === '||') return asBool(sub(l), 'the operand of "||"') || asBool(sub(r), 'the operand of "||"');
  const a = sub(l);
  const b = sub(r);
  if (op === '==') return valuesEqual(a, b);
  if (op === '!=') return !valuesEqual(a, b);
  const x = asNumber(a, `the operand of "${op}"`);
  const y = asNumber(b, `the operand of "${op}"`);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      if (y === 0) throw new Error('division by zero');
      return x / y;
    case '%':
      return x % y;
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
  }
  throw new Error(`unknown operator ${op}`);
}

function forExpr(e: Extract<Expr, { k: 'for' }>, ctx: EvalContext): Value {
  const coll = evalExpr(e.coll, ctx);
  let entries: [Value, Value][];
  if (Array.isArray(coll)) entries = coll.map((v, i) => [i, v]);
  else if (isObject(coll))
    entries = Object.keys(coll)
      .sort()
      .map((k): [Value, Value] => [k, coll[k] as Value]);
  else fail(ctx, e.line, `a for expression cannot iterate over a ${typeName(coll)}`);
  const listOut: Value[] = [];
  const objOut: { [k: string]: Value } = {};
  for (const [k, v] of entries) {
    const inner: EvalContext = {
      ...ctx,
      lookup: (name, line) => {
        if (name === e.valVar) return v;
        if (e.keyVar && name === e.keyVar) return k;
        return ctx.lookup(name, line);
      },
    };
    if (e.cond && !asBool(evaluate(e.cond, inner), 'a for condition')) continue;
    const val = evaluate(e.value, inner);
    if (!e.object) listOut.push(val);
    else {
      const key = asString(evaluate(e.key as Expr, inner), 'a for key');
      if (e.group) {
        const list = (objOut[key] ?? []) as Value[];
        list.push(val);
        objOut[key] = list;
      } else if (key in objOut)
        fail(ctx, e.line, `duplicate key "${key}" in a for expression (use ... to group)`);
      else objOut[key] = val;
    }
  }
  return e.object ? objOut : listOut;
}
