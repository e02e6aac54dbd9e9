// Turns HCL and JSON bake files into targets and groups, as buildx's hclparser does: variables
// and top-level attributes are shared by all files (the last definition wins), a variable takes
// the environment variable of its name over its default (converted to the default's type), and
// `target.NAME.ATTR` reads another target's attribute.
import { BakeError } from './errors.js';
import { asBool, asString, type EvalContext, evaluate, isObject, type Value, where } from './hcl-eval.js';
import { type Attribute, type Block, type Body, type Expr, parseHcl, parseTemplate } from './hcl-parser.js';
import {
  type CacheEntry,
  type ExportEntry,
  type Group,
  parseCacheEntries,
  parseExport,
  parseSecret,
  parseSsh,
  type SecretSpec,
  type SshSpec,
  type Target,
  UNSUPPORTED_ATTRIBUTES,
} from './model.js';

export interface HclFile {
  name: string;
  body: Body;
}

/** Parses a file's text by its name: .json as JSON, anything else as HCL. */
export function parseBakeFile(name: string, text: string, json: boolean): HclFile {
  return { name, body: json ? jsonBody(name, text) : parseHcl(text, name) };
}

// ---- JSON syntax: strings are templates, top-level variable/target/group keys are blocks.

const BLOCK_TYPES = ['variable', 'target', 'group', 'function'];

function jsonBody(file: string, text: string): Body {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BakeError('bake_syntax', `${file}: invalid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(doc)) throw new BakeError('bake_syntax', `${file}: the top level must be an object`);
  return jsonObjectBody(file, doc, true);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonObjectBody(file: string, o: Record<string, unknown>, top: boolean): Body {
  const body: Body = { attrs: [], blocks: [] };
  for (const [k, v] of Object.entries(o)) {
    if ((top && BLOCK_TYPES.includes(k)) || (!top && k === 'validation')) {
      if (top) {
        if (!isPlainObject(v))
          throw new BakeError('bake_syntax', `${file}: "${k}" must be an object of named blocks`);
        for (const [label, content] of Object.entries(v)) {
          for (const one of Array.isArray(content) ? content : [content]) {
            if (!isPlainObject(one))
              throw new BakeError('bake_syntax', `${file}: ${k} "${label}" must be an object`);
            body.blocks.push({ type: k, labels: [label], body: jsonObjectBody(file, one, false), line: 0 });
          }
        }
      } else {
        for (const one of Array.isArray(v) ? v : [v]) {
          if (!isPlainObject(one)) throw new BakeError('bake_syntax', `${file}: "${k}" must be an object`);
          body.blocks.push({ type: k, labels: [], body: jsonObjectBody(file, one, false), line: 0 });
        }
      }
      continue;
    }
    body.attrs.push({ name: k, expr: jsonExpr(file, v), line: 0 });
  }
  return body;
}

function jsonExpr(file: string, v: unknown): Expr {
  if (typeof v === 'string') return parseTemplate(v, file, 0);
  if (Array.isArray(v)) return { k: 'tuple', items: v.map((x) => jsonExpr(file, x)), line: 0 };
  if (isPlainObject(v))
    return {
      k: 'object',
      items: Object.entries(v).map(([key, value]) => ({
        key: { k: 'lit', v: key, line: 0 },
        value: jsonExpr(file, value),
      })),
      line: 0,
    };
  return { k: 'lit', v: v as Value, line: 0 };
}

// ---- evaluation

export interface LoadOptions {
  env: NodeJS.ProcessEnv;
  /** Built-in variables (BAKE_CMD_CONTEXT, BAKE_LOCAL_PLATFORM): not overridable. */
  builtins: Record<string, string>;
  now: Date;
}

interface VarDef {
  file: string;
  block?: Block;
  attr?: Attribute;
}

/** Reads every target and group of the files, in file order, evaluated. */
export function loadHcl(files: HclFile[], opts: LoadOptions): { groups: Group[]; targets: Target[] } {
  const vars = new Map<string, VarDef>();
  const values = new Map<string, Value>();
  const resolving = new Set<string>();
  const targetBlocks = new Map<string, { file: string; block: Block }[]>();

  for (const f of files) {
    for (const a of f.body.attrs) {
      if (BLOCK_TYPES.includes(a.name)) continue;
      vars.set(a.name, { file: f.name, attr: a });
    }
    for (const b of f.body.blocks) {
      const w = where(f.name, b.line);
      if (b.type === 'function')
        throw new BakeError(
          'bake_unsupported',
          `${w}: function blocks are not supported by depot bake`,
          'compute the value in a variable instead',
        );
      if (!['variable', 'target', 'group'].includes(b.type))
        throw new BakeError(
          'bake_syntax',
          `${w}: unknown block type "${b.type}"`,
          'bake files hold variable, target and group blocks',
        );
      if (b.labels.length !== 1)
        throw new BakeError(
          'bake_syntax',
          `${w}: a ${b.type} block takes one name, e.g. ${b.type} "NAME" { … }`,
        );
      const label = b.labels[0] as string;
      if (b.type === 'variable') vars.set(label, { file: f.name, block: b });
      if (b.type === 'target') {
        const list = targetBlocks.get(label) ?? [];
        list.push({ file: f.name, block: b });
        targetBlocks.set(label, list);
      }
    }
  }

  const envLookup = !['1', 't', 'T', 'TRUE', 'true', 'True'].includes(
    opts.env.BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP ?? '',
  );

  const ctxFor = (file: string): EvalContext => ({ file, now: opts.now, lookup });

  function lookup(name: string): Value | undefined {
    if (name === 'target') return targetProxy();
    if (values.has(name)) return values.get(name) as Value;
    if (Object.hasOwn(opts.builtins, name)) return opts.builtins[name];
    const def = vars.get(name);
    if (!def) return undefined;
    if (resolving.has(name)) throw new BakeError('bake_eval', `variable cycle not allowed for ${name}`);
    resolving.add(name);
    const v = resolveVariable(name, def);
    resolving.delete(name);
    values.set(name, v);
    return v;
  }

  function resolveVariable(name: string, def: VarDef): Value {
    const ctx = ctxFor(def.file);
    if (def.attr) return evaluate(def.attr.expr, ctx);
    const block = def.block as Block;
    const w = where(def.file, block.line);
    let type: string | undefined;
    let defExpr: Expr | undefined;
    for (const a of block.body.attrs) {
      if (a.name === 'default') defExpr = a.expr;
      else if (a.name === 'type') {
        type = a.expr.k === 'var' ? a.expr.name : undefined;
        if (!type || !['string', 'bool', 'number', 'any'].includes(type))
          throw new BakeError(
            'bake_unsupported',
            `${where(def.file, a.line)}: variable "${name}": only the types string, bool, number and any are supported by depot bake`,
          );
      } else if (a.name !== 'description')
        throw new BakeError(
          'bake_syntax',
          `${where(def.file, a.line)}: variable "${name}": unknown attribute "${a.name}"`,
        );
    }
    for (const b of block.body.blocks)
      if (b.type !== 'validation')
        throw new BakeError(
          'bake_syntax',
          `${where(def.file, b.line)}: variable "${name}": unknown block "${b.type}"`,
        );
    const typed = type !== undefined && type !== 'any';
    const envv = envLookup ? opts.env[name] : undefined;
    let v: Value;
    if (!defExpr) v = envv ?? (typed ? null : '');
    else v = evaluate(defExpr, ctx);
    if (typed && v !== null && defExpr) v = convertPrimitive(name, v, type as string, w);
    if (envv !== undefined) {
      const want = typed ? (type as string) : v === null || !defExpr ? 'string' : primitiveType(v);
      if (!want)
        throw new BakeError(
          'bake_unsupported',
          `${w}: variable "${name}" has a list or object default; depot bake cannot take it from the environment`,
        );
      v = convertPrimitive(name, envv, want, w);
    }
    return v;
  }

  function validate(name: string, def: VarDef): void {
    if (!def.block) return;
    for (const b of def.block.body.blocks) {
      const cond = b.body.attrs.find((a) => a.name === 'condition');
      const msg = b.body.attrs.find((a) => a.name === 'error_message');
      if (!cond)
        throw new BakeError(
          'bake_syntax',
          `${where(def.file, b.line)}: validation of "${name}" needs a condition`,
        );
      const ctx = ctxFor(def.file);
      if (!asBoolAt(evaluate(cond.expr, ctx), def.file, cond.line)) {
        const text = msg ? evaluate(msg.expr, ctx) : null;
        throw new BakeError(
          'bake_validation',
          `${where(def.file, cond.line)}: variable "${name}": ${typeof text === 'string' ? text : 'validation failed'}`,
        );
      }
    }
  }

  // Lazily evaluated `target.NAME.ATTR`: the attribute as the target's own blocks set it.
  const targetAttrCache = new Map<string, Value>();
  const targetAttrBusy = new Set<string>();
  function targetAttr(tname: string, attr: string): Value | undefined {
    const key = `${tname}\0${attr}`;
    if (targetAttrCache.has(key)) return targetAttrCache.get(key) as Value;
    const blocks = targetBlocks.get(tname);
    if (!blocks) return undefined;
    if (targetAttrBusy.has(key)) throw new BakeError('bake_eval', `target.${tname}.${attr} refers to itself`);
    targetAttrBusy.add(key);
    let v: Value | undefined;
    for (const { file, block } of blocks) {
      const a = block.body.attrs.find((x) => x.name === attr);
      if (a) v = evaluate(a.expr, ctxFor(file));
    }
    targetAttrBusy.delete(key);
    if (v !== undefined) targetAttrCache.set(key, v);
    return v;
  }
  function targetProxy(): Value {
    return new Proxy({} as { [k: string]: Value }, {
      has: (_, tname) => typeof tname === 'string' && targetBlocks.has(tname),
      get: (_, tname) => {
        if (typeof tname !== 'string' || !targetBlocks.has(tname)) return undefined;
        return new Proxy({} as { [k: string]: Value }, {
          has: (_, attr) => typeof attr === 'string' && targetAttr(tname, attr) !== undefined,
          get: (_, attr) => (typeof attr === 'string' ? targetAttr(tname, attr) : undefined),
        });
      },
    });
  }

  for (const [name, def] of vars) {
    lookup(name);
    validate(name, def);
  }

  const groups: Group[] = [];
  const targets: Target[] = [];
  for (const f of files) {
    for (const b of f.body.blocks) {
      if (b.type === 'group') groups.push(decodeGroup(b, f.name, ctxFor(f.name)));
      if (b.type === 'target') targets.push(decodeTarget(b, f.name, ctxFor(f.name)));
    }
  }
  return { groups, targets };
}

function primitiveType(v: Value): string | undefined {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  return undefined;
}

function convertPrimitive(name: string, v: Value, type: string, w: string): Value {
  if (type === 'any') return v;
  if (type === 'string') {
    if (typeof v === 'object' && v !== null)
      throw new BakeError('bake_eval', `${w}: variable "${name}" must be a string`);
    return v === null ? null : asString(v, name);
  }
  if (type === 'bool') {
    if (typeof v === 'boolean') return v;
    const s = String(v);
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
    throw new BakeError('bake_eval', `${w}: failed to parse ${name} as bool: "${s}"`);
  }
  if (typeof v === 'number') return v;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n))
    throw new BakeError('bake_eval', `${w}: failed to parse ${name} as number: "${String(v)}"`);
  return n;
}

function asBoolAt(v: Value, file: string, line: number): boolean {
  try {
    return asBool(v, 'the condition');
  } catch (e) {
    throw new BakeError('bake_eval', `${where(file, line)}: ${(e as Error).message}`);
  }
}

function decodeGroup(b: Block, file: string, ctx: EvalContext): Group {
  const g: Group = { name: b.labels[0] as string, targets: [] };
  for (const a of b.body.attrs) {
    const w = where(file, a.line);
    const v = evaluate(a.expr, ctx);
    if (a.name === 'targets') g.targets = stringList(v, `${w}: group "${g.name}" targets`);
    else if (a.name === 'description')
      g.description = v === null ? undefined : asStringAt(v, w, 'description');
    else if (a.name === 'matrix' || a.name === 'name')
      throw new BakeError('bake_unsupported', `${w}: ${a.name} is not supported for groups`);
    else throw new BakeError('bake_syntax', `${w}: group "${g.name}": unknown attribute "${a.name}"`);
  }
  const inner = b.body.blocks[0];
  if (inner) throw new BakeError('bake_syntax', `${where(file, inner.line)}: a group holds no blocks`);
  if (!g.description) delete g.description;
  return g;
}

function asStringAt(v: Value, w: string, what: string): string {
  try {
    return asString(v, what);
  } catch (e) {
    throw new BakeError('bake_eval', `${w}: ${(e as Error).message}`);
  }
}

/** `what` is "file:line: name": the location and the attribute, for messages. */
function splitWhat(what: string): [string, string] {
  const i = what.lastIndexOf(': ');
  return i < 0 ? [what, what] : [what.slice(0, i), what.slice(i + 2)];
}

function stringList(v: Value, what: string): string[] {
  if (!Array.isArray(v)) throw new BakeError('bake_eval', `${what} must be a list of strings`);
  const [w, name] = splitWhat(what);
  return v.filter((x) => x !== null).map((x) => asStringAt(x, w, name));
}

function stringMap(v: Value, what: string): Record<string, string | null> {
  if (!isObject(v)) throw new BakeError('bake_eval', `${what} must be a map of strings`);
  const out: Record<string, string | null> = {};
  const [w, name] = splitWhat(what);
  for (const [k, x] of Object.entries(v)) out[k] = x === null ? null : asStringAt(x, w, `${name}.${k}`);
  return out;
}

/** Entries of a list attribute that buildx skips: null and "" (buildflags eachElement). */
function listItems(v: Value, what: string): Value[] {
  if (!Array.isArray(v)) throw new BakeError('bake_eval', `${what} must be a list`);
  return v.filter((x) => x !== null && x !== '');
}

function wrapParse<T>(w: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BakeError) throw e;
    throw new BakeError('bake_eval', `${w}: ${(e as Error).message}`);
  }
}

function stringRecord(v: Value, w: string, what: string): Record<string, string> {
  if (!isObject(v)) throw new BakeError('bake_eval', `${w}: ${what} must be a string or an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = asStringAt(x, w, `${what}.${k}`);
  return out;
}

function cacheList(v: Value, w: string, what: string): CacheEntry[] {
  return wrapParse(w, () =>
    listItems(v, `${w}: ${what}`).flatMap((x) => {
      if (typeof x === 'string') return parseCacheEntries(x);
      const { type, ...attrs } = stringRecord(x, w, what);
      if (!type) throw new Error(`type required for ${what} entry ${JSON.stringify(x)}`);
      return [{ type, attrs }];
    }),
  );
}

function exportList(v: Value, w: string): ExportEntry[] {
  return wrapParse(w, () =>
    listItems(v, `${w}: output`).map((x) => {
      if (typeof x === 'string') return parseExport(x);
      const { type, dest, ...attrs } = stringRecord(x, w, 'output');
      if (!type) throw new Error('type is required for output');
      return dest ? { type, dest, attrs } : { type, attrs };
    }),
  );
}

function secretList(v: Value, w: string): SecretSpec[] {
  return wrapParse(w, () =>
    listItems(v, `${w}: secret`).map((x) => {
      if (typeof x === 'string') return parseSecret(x);
      const r = stringRecord(x, w, 'secret');
      for (const k of Object.keys(r))
        if (!['id', 'src', 'env'].includes(k)) throw new Error(`unexpected key "${k}" in a secret`);
      const s: SecretSpec = {};
      if (r.id) s.id = r.id;
      if (r.src) s.src = r.src;
      if (r.env) s.env = r.env;
      return s;
    }),
  );
}

function sshList(v: Value, w: string): SshSpec[] {
  return wrapParse(w, () =>
    listItems(v, `${w}: ssh`).map((x) => {
      if (typeof x === 'string') return parseSsh(x);
      if (!isObject(x)) throw new Error('an ssh entry must be a string or an object');
      const s: SshSpec = { id: x.id === null || x.id === undefined ? '' : asString(x.id, 'ssh id') };
      if (Array.isArray(x.paths) && x.paths.length) s.paths = x.paths.map((p) => asString(p, 'ssh path'));
      return s;
    }),
  );
}

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/;
/** A context depot cannot sync: remote (git, https) or another build's output. */
export function unsupportedContext(ctx: string): string | undefined {
  if (REMOTE.test(ctx)) return 'remote contexts (git or https URLs)';
  if (/^(target:|docker-image:\/\/|oci-layout:\/\/)/.test(ctx)) return `"${ctx.split(':')[0]}:" contexts`;
  return undefined;
}

function decodeTarget(b: Block, file: string, ctx: EvalContext): Target {
  const name = b.labels[0] as string;
  if (!/^[a-zA-Z0-9_-]+$/.test(name))
    throw new BakeError(
      'bake_syntax',
      `${where(file, b.line)}: invalid target name "${name}": only [a-zA-Z0-9_-]+ are allowed`,
    );
  const t: Target = { name };
  const inner = b.body.blocks[0];
  if (inner)
    throw new BakeError(
      'bake_syntax',
      `${where(file, inner.line)}: target "${name}": unexpected block "${inner.type}"`,
    );
  for (const a of b.body.attrs) {
    const w = where(file, a.line);
    if (a.name === 'matrix')
      throw new BakeError(
        'bake_unsupported',
        `${w}: target "${name}": matrix is not supported by depot bake`,
        'write one target per combination',
      );
    if (a.name === 'name')
      throw new BakeError(
        'bake_unsupported',
        `${w}: target "${name}": name (with matrix) is not supported by depot bake`,
      );
    if (UNSUPPORTED_ATTRIBUTES.includes(a.name))
      throw new BakeError(
        'bake_unsupported',
        `${w}: target "${name}": attribute "${a.name}" is not supported by depot bake`,
        'remove it (see the depot bake section of docs/cli.md)',
      );
    const v = evaluate(a.expr, ctx);
    if (v === null) continue;
    switch (a.name) {
      case 'description':
        t.description = asStringAt(v, w, 'description');
        break;
      case 'inherits':
        t.inherits = stringList(v, `${w}: inherits`);
        break;
      case 'context': {
        t.context = asStringAt(v, w, 'context');
        const bad = unsupportedContext(t.context);
        if (bad)
          throw new BakeError(
            'bake_unsupported',
            `${w}: target "${name}": ${bad} are not supported by depot bake`,
            'use a local directory',
          );
        break;
      }
      case 'dockerfile':
        t.dockerfile = asStringAt(v, w, 'dockerfile');
        break;
      case 'dockerfile-inline':
        t.dockerfileInline = asStringAt(v, w, 'dockerfile-inline');
        break;
      case 'args':
        t.args = stringMap(v, `${w}: args`);
        break;
      case 'labels':
        t.labels = stringMap(v, `${w}: labels`);
        break;
      case 'tags':
        t.tags = stringList(v, `${w}: tags`);
        break;
      case 'platforms':
        t.platforms = stringList(v, `${w}: platforms`);
        break;
      case 'target':
        t.target = asStringAt(v, w, 'target');
        break;
      case 'network':
        t.network = asStringAt(v, w, 'network');
        break;
      case 'cache-from':
        t.cacheFrom = cacheList(v, w, 'cache-from');
        break;
      case 'cache-to':
        t.cacheTo = cacheList(v, w, 'cache-to');
        break;
      case 'output':
        t.output = exportList(v, w);
        break;
      case 'secret':
        t.secret = secretList(v, w);
        break;
      case 'ssh':
        t.ssh = sshList(v, w);
        break;
      case 'pull':
        t.pull = wrapParse(w, () => asBool(v, 'pull'));
        break;
      case 'no-cache':
        t.noCache = wrapParse(w, () => asBool(v, 'no-cache'));
        break;
      default:
        throw new BakeError('bake_syntax', `${w}: target "${name}": unknown attribute "${a.name}"`);
    }
  }
  return t;
}
