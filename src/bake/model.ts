// The bake model: targets and groups as the files define them, merged, inherited and overridden
// the way buildx does it (bake/bake.go: Target.Merge, Config.target, newOverrides, AddOverrides,
// normalize), so `depot bake --print` shows what `docker buildx bake --print` shows.
import { BakeError } from './errors.js';

export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}

export interface ExportEntry {
  type: string;
  dest?: string;
  attrs: Record<string, string>;
}

export interface SecretSpec {
  id?: string;
  src?: string;
  env?: string;
}

export interface SshSpec {
  id: string;
  paths?: string[];
}

/** One target as a file defines it: unset fields are undefined (buildx's nil). */
export interface Target {
  name: string;
  description?: string;
  inherits?: string[];
  context?: string;
  dockerfile?: string;
  dockerfileInline?: string;
  /** A null value is buildx's nil: it does not override an inherited value. */
  args?: Record<string, string | null>;
  labels?: Record<string, string | null>;
  tags?: string[];
  cacheFrom?: CacheEntry[];
  cacheTo?: CacheEntry[];
  target?: string;
  secret?: SecretSpec[];
  ssh?: SshSpec[];
  platforms?: string[];
  output?: ExportEntry[];
  pull?: boolean;
  noCache?: boolean;
  network?: string;
}

export interface Group {
  name: string;
  description?: string;
  targets: string[];
}

/** Targets and groups of all files, merged in file order. */
export interface Config {
  groups: Group[];
  targets: Target[];
}

/** A target after inherits, overrides and buildx's defaults: what a build of it needs. */
export interface ResolvedTarget extends Omit<Target, 'inherits' | 'args' | 'labels'> {
  context: string;
  dockerfile: string;
  args?: Record<string, string>;
  labels?: Record<string, string>;
}

/** Drops duplicates and empty strings, keeping first occurrences (buildx removeDupesStr). */
export function removeDupesStr(s: string[]): string[] {
  const seen = new Set<string>();
  return s.filter((v) => {
    if (v === '' || seen.has(v)) return false;
    seen.add(v);
    return true;
  });
}

export function dedup<T>(s: T[]): T[] {
  return [...new Set(s)];
}

function mapsEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

const cacheEqual = (a: CacheEntry, b: CacheEntry) => a.type === b.type && mapsEqual(a.attrs, b.attrs);
const exportEqual = (a: ExportEntry, b: ExportEntry) =>
  a.type === b.type && (a.dest ?? '') === (b.dest ?? '') && mapsEqual(a.attrs, b.attrs);

/** buildx's removeDupes: walks from the end and swaps a later duplicate out (order shifts as in Go). */
function removeDupes<T>(s: T[], eq: (a: T, b: T) => boolean): T[] {
  const out = [...s];
  let len = out.length;
  for (let i = len - 2; i >= 0; i--) {
    for (let j = i + 1; j < len; j++) {
      if (eq(out[i] as T, out[j] as T)) {
        [out[j], out[len - 1]] = [out[len - 1] as T, out[j] as T];
        len--;
        break;
      }
    }
  }
  return out.slice(0, len);
}

const normalizeCache = (c?: CacheEntry[]) => (c?.length ? removeDupes(c, cacheEqual) : undefined);
const normalizeExports = (c?: ExportEntry[]) => (c?.length ? removeDupes(c, exportEqual) : undefined);

/** Later entries with the same id replace earlier ones in place (buildx removeSecretDupes). */
function dedupById<T extends { id?: string }>(s?: T[]): T[] | undefined {
  if (!s || s.length === 0) return undefined;
  const out: T[] = [];
  const at = new Map<string, number>();
  for (const x of s) {
    const i = at.get(x.id ?? '');
    if (i !== undefined) out[i] = x;
    else {
      at.set(x.id ?? '', out.length);
      out.push(x);
    }
  }
  return out;
}

function mergeMap(
  a: Record<string, string | null> | undefined,
  b: Record<string, string | null> | undefined,
): Record<string, string | null> | undefined {
  if (!b) return a;
  let out = a;
  for (const [k, v] of Object.entries(b)) {
    if (v === null) continue;
    out = { ...(out ?? {}), [k]: v };
  }
  return out;
}

/** Target.Merge: t2's set fields win; some lists append, others replace (as buildx marks them). */
export function mergeTarget(t: Target, t2: Target): Target {
  const m: Target = { ...t };
  if (t2.context !== undefined) m.context = t2.context;
  if (t2.dockerfile !== undefined) m.dockerfile = t2.dockerfile;
  if (t2.dockerfileInline !== undefined) m.dockerfileInline = t2.dockerfileInline;
  m.args = mergeMap(m.args, t2.args);
  m.labels = mergeMap(m.labels, t2.labels);
  if (t2.tags !== undefined) m.tags = t2.tags;
  if (t2.target !== undefined) m.target = t2.target;
  if (t2.secret !== undefined) m.secret = dedupById([...(m.secret ?? []), ...t2.secret]);
  if (t2.ssh !== undefined) m.ssh = dedupById([...(m.ssh ?? []), ...t2.ssh]);
  if (t2.platforms !== undefined) m.platforms = t2.platforms;
  if (t2.cacheFrom !== undefined) m.cacheFrom = normalizeCache([...(m.cacheFrom ?? []), ...t2.cacheFrom]);
  if (t2.cacheTo !== undefined) m.cacheTo = t2.cacheTo;
  if (t2.output !== undefined) m.output = t2.output;
  if (t2.pull !== undefined) m.pull = t2.pull;
  if (t2.noCache !== undefined) m.noCache = t2.noCache;
  if (t2.network !== undefined) m.network = t2.network;
  if (t2.description) m.description = t2.description;
  if (t2.inherits) m.inherits = [...(m.inherits ?? []), ...t2.inherits];
  for (const k of Object.keys(m) as (keyof Target)[]) if (m[k] === undefined) delete m[k];
  return m;
}

/** Adds a file's targets and groups to a config: same-named targets merge, groups replace. */
export function addToConfig(c: Config, groups: Group[], targets: Target[]): void {
  for (const g of groups) {
    const i = c.groups.findIndex((x) => x.name === g.name);
    if (i >= 0) c.groups[i] = g;
    else c.groups.push(g);
  }
  for (const t of targets) {
    const i = c.targets.findIndex((x) => x.name === t.name);
    if (i >= 0) c.targets[i] = mergeTarget(c.targets[i] as Target, t);
    else c.targets.push(t);
  }
}

// ---- values as buildx parses them from strings (CSV forms of --cache-from, --output, --secret…)

/** Splits a CSV record as Go's encoding/csv reads one line (double quotes group). */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '' && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
      wasQuoted = false;
    } else cur += c;
  }
  if (quoted) throw new Error(`unterminated quote in "${s}"`);
  out.push(cur);
  return out;
}

function kv(field: string, what: string): [string, string] {
  const i = field.indexOf('=');
  if (i < 0) throw new Error(`invalid ${what} field "${field}": expected key=value`);
  return [field.slice(0, i), field.slice(i + 1)];
}

/** One --cache-from/--cache-to value: a bare ref is a registry cache (buildx ParseCacheEntry). */
export function parseCacheEntries(s: string): CacheEntry[] {
  if (s === '') return [];
  if (!s.includes('=')) return csvFields(s).map((ref) => ({ type: 'registry', attrs: { ref } }));
  const e: CacheEntry = { type: '', attrs: {} };
  for (const f of csvFields(s)) {
    const [k, v] = kv(f, 'cache');
    if (k.toLowerCase() === 'type') e.type = v;
    else e.attrs[k.toLowerCase()] = v;
  }
  if (!e.type) throw new Error(`type required for "${s}"`);
  return [e];
}

/** One --output value (buildx ExportEntry.UnmarshalText): a bare path is a local export. */
export function parseExport(s: string): ExportEntry {
  const fields = csvFields(s);
  if (fields.length === 1 && fields[0] === s && !s.startsWith('type=')) {
    return s === '-' ? { type: 'tar', dest: '-', attrs: {} } : { type: 'local', dest: s, attrs: {} };
  }
  const e: ExportEntry = { type: '', attrs: {} };
  for (const f of fields) {
    const [k0, v] = kv(f, 'output');
    const k = k0.trim().toLowerCase();
    if (k === 'type') e.type = v;
    else if (k === 'dest') e.dest = v;
    else e.attrs[k] = v;
  }
  if (!e.type) throw new Error('type is required for output');
  if (e.dest === '') delete e.dest;
  return e;
}

/** One --secret value (buildx Secret.UnmarshalText). */
export function parseSecret(s: string): SecretSpec {
  const out: SecretSpec = {};
  let typ = '';
  for (const f of csvFields(s)) {
    const i = f.indexOf('=');
    if (i < 0) throw new Error(`invalid field '${f}' must be a key=value pair`);
    const k = f.slice(0, i).toLowerCase();
    const v = f.slice(i + 1);
    if (k === 'type') {
      if (v !== 'file' && v !== 'env') throw new Error(`unsupported secret type "${v}"`);
      typ = v;
    } else if (k === 'id') out.id = v;
    else if (k === 'src' || k === 'source') out.src = v;
    else if (k === 'env') out.env = v;
    else throw new Error(`unexpected key '${k}' in '${f}'`);
  }
  if (typ === 'env' && !out.env) {
    out.env = out.src;
    delete out.src;
  }
  for (const k of ['id', 'src', 'env'] as const) if (!out[k]) delete out[k];
  return out;
}

/** One --ssh value: ID[=path,path] (buildx SSH.UnmarshalText). */
export function parseSsh(s: string): SshSpec {
  const i = s.indexOf('=');
  if (i < 0) return { id: s };
  return { id: s.slice(0, i), paths: s.slice(i + 1).split(',') };
}

// ---- --set

interface Override {
  value?: string;
  arr: string[];
  append: boolean;
  set: boolean;
}

/** Attributes buildx has that depot cannot honour: refused rather than dropped. */
export const UNSUPPORTED_ATTRIBUTES = [
  'annotations',
  'attest',
  'call',
  'contexts',
  'entitlements',
  'extra-hosts',
  'no-cache-filter',
  'policy',
  'resources',
  'shm-size',
  'ulimits',
];

const ARRAY_KEYS = new Set(['output', 'cache-to', 'cache-from', 'tags', 'platform', 'secrets', 'ssh']);
const SCALAR_KEYS = new Set([
  'context',
  'dockerfile',
  'target',
  'network',
  'no-cache',
  'pull',
  'push',
  'load',
]);

export type Overrides = Map<string, Map<string, Override>>;

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) throw new BakeError('bake_set', `invalid pattern "${glob}"`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function isGlob(s: string): boolean {
  return /[*?[\]]/.test(s);
}

export function matchGlob(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}

/** Parses --set values (buildx newOverrides): target.key[.name]=value, `*`/globs for targets, += appends. */
export function parseOverrides(c: Config, sets: string[], env: NodeJS.ProcessEnv): Overrides {
  const m: Overrides = new Map();
  for (const v of sets) {
    const eq = v.indexOf('=');
    const lhs = eq < 0 ? v : v.slice(0, eq);
    const rhs = eq < 0 ? undefined : v.slice(eq + 1);
    const append = lhs.endsWith('+');
    const skey = append ? lhs.slice(0, -1) : lhs;
    const keys = skey.split('.');
    const parts = keys.length > 3 ? [keys[0], keys[1], keys.slice(2).join('.')] : keys;
    if (parts.length < 2)
      throw new BakeError(
        'bake_set',
        `invalid --set key "${skey}"`,
        'use --set TARGET.KEY=VALUE, e.g. --set app.tags=app:dev',
      );
    const pattern = parts[0] as string;
    const key = parts[1] as string;
    if (rhs === undefined && key !== 'args')
      throw new BakeError('bake_set', `invalid --set "${v}"`, 'use --set TARGET.KEY=VALUE');
    if (UNSUPPORTED_ATTRIBUTES.includes(key) || key === 'secret')
      throw new BakeError(
        'bake_unsupported',
        `--set ${key} is not supported by depot bake`,
        supportedSetHint(),
      );
    if (!ARRAY_KEYS.has(key) && !SCALAR_KEYS.has(key) && key !== 'args' && key !== 'labels')
      throw new BakeError('bake_set', `unknown --set key "${key}"`, supportedSetHint());
    if ((key === 'args' || key === 'labels') && parts.length !== 3)
      throw new BakeError(
        'bake_set',
        `invalid --set key "${skey}": ${key} needs a name`,
        `use --set TARGET.${key}.NAME=VALUE`,
      );
    let names: string[];
    if (c.targets.some((t) => t.name === pattern)) names = [pattern];
    else {
      names = c.targets.filter((t) => matchGlob(pattern, t.name)).map((t) => t.name);
      if (names.length === 0)
        throw new BakeError('bake_set', `--set ${v}: could not find any target matching "${pattern}"`);
    }
    const okey = parts.slice(1).join('.');
    let value = rhs;
    if (key === 'args' && rhs === undefined) {
      value = env[parts[2] as string];
      if (value === undefined) continue;
    }
    for (const name of names) {
      let t = m.get(name);
      if (!t) {
        t = new Map();
        m.set(name, t);
      }
      const o = t.get(okey) ?? { arr: [], append: false, set: false };
      if (ARRAY_KEYS.has(key)) {
        o.append = append;
        o.arr.push(value as string);
      } else o.value = value;
      o.set = true;
      t.set(okey, o);
    }
  }
  return m;
}

function supportedSetHint(): string {
  return `depot bake --set takes: ${[...SCALAR_KEYS, ...ARRAY_KEYS, 'args.NAME', 'labels.NAME'].sort().join(', ')}`;
}

function parseBoolFlag(key: string, v: string): boolean {
  // Go's strconv.ParseBool.
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new BakeError('bake_set', `invalid value ${v} for boolean key ${key}`);
}

function setPush(outputs: ExportEntry[], push: boolean): ExportEntry[] {
  let out = outputs.map((o) => ({ ...o, attrs: { ...o.attrs } }));
  if (!push) {
    for (let i = 0; i < out.length; ) {
      const o = out[i] as ExportEntry;
      if (o.type === 'registry') {
        [out[i], out[out.length - 1]] = [out[out.length - 1] as ExportEntry, o];
        out = out.slice(0, -1);
        continue;
      }
      if (o.type === 'image') o.attrs.push = 'false';
      i++;
    }
    return out;
  }
  let add = true;
  for (const o of out) {
    if (o.type !== 'docker') add = false;
    if (o.type === 'image') o.attrs.push = 'true';
  }
  if (add) out.push({ type: 'image', attrs: { push: 'true' } });
  return out;
}

function setLoad(outputs: ExportEntry[], load: boolean): ExportEntry[] {
  if (!load) return outputs;
  for (const o of outputs) {
    if (o.type === 'docker') {
      if (!o.dest) return outputs;
    } else if (!['image', 'registry', 'oci'].includes(o.type)) return outputs;
  }
  return [...outputs, { type: 'docker', attrs: {} }];
}

function applyOverrides(t: Target, o: Map<string, Override> | undefined): Target {
  if (!o) return t;
  const r: Target = { ...t };
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof BakeError) throw e;
      throw new BakeError('bake_set', `--set for target "${t.name}": ${(e as Error).message}`);
    }
  };
  for (const [key, ov] of o) {
    const [k0, rest] = [key.split('.')[0], key.split('.').slice(1).join('.')];
    const value = ov.value ?? '';
    switch (k0) {
      case 'context':
        r.context = value;
        break;
      case 'dockerfile':
        r.dockerfile = value;
        break;
      case 'target':
        r.target = value;
        break;
      case 'network':
        r.network = value;
        break;
      case 'args':
        r.args = { ...(r.args ?? {}), [rest]: value };
        break;
      case 'labels':
        r.labels = { ...(r.labels ?? {}), [rest]: value };
        break;
      case 'tags':
        r.tags = ov.append ? [...(r.tags ?? []), ...ov.arr] : ov.arr;
        break;
      case 'platform':
        r.platforms = ov.append ? [...(r.platforms ?? []), ...ov.arr] : ov.arr;
        break;
      case 'cache-from': {
        const v = wrap(() => ov.arr.flatMap(parseCacheEntries));
        r.cacheFrom = ov.append ? normalizeCache([...(r.cacheFrom ?? []), ...v]) : v;
        break;
      }
      case 'cache-to': {
        const v = wrap(() => ov.arr.flatMap(parseCacheEntries));
        r.cacheTo = ov.append ? normalizeCache([...(r.cacheTo ?? []), ...v]) : v;
        break;
      }
      case 'secrets': {
        const v = wrap(() => ov.arr.filter((x) => x).map(parseSecret));
        r.secret = ov.append ? dedupById([...(r.secret ?? []), ...v]) : v;
        break;
      }
      case 'ssh': {
        const v = ov.arr.filter((x) => x).map(parseSsh);
        r.ssh = ov.append ? dedupById([...(r.ssh ?? []), ...v]) : v;
        break;
      }
      case 'output': {
        const v = wrap(() => ov.arr.filter((x) => x).map(parseExport));
        r.output = ov.append ? normalizeExports([...(r.output ?? []), ...v]) : v;
        break;
      }
      case 'no-cache':
        r.noCache = parseBoolFlag('no-cache', value);
        break;
      case 'pull':
        r.pull = parseBoolFlag('pull', value);
        break;
      case 'push':
        r.output = setPush(r.output ?? [], parseBoolFlag('push', value));
        break;
      case 'load':
        r.output = setLoad(r.output ?? [], parseBoolFlag('load', value));
        break;
    }
  }
  return r;
}

function normalize(t: Target): Target {
  const r: Target = { ...t };
  if (r.tags) r.tags = removeDupesStr(r.tags);
  if (r.platforms) r.platforms = removeDupesStr(r.platforms);
  r.secret = dedupById(r.secret);
  r.ssh = dedupById(r.ssh);
  r.cacheFrom = normalizeCache(r.cacheFrom);
  r.cacheTo = normalizeCache(r.cacheTo);
  r.output = normalizeExports(r.output);
  for (const k of Object.keys(r) as (keyof Target)[]) if (r[k] === undefined) delete r[k];
  return r;
}

/** Group names expand to their targets, recursively (buildx Config.group); others are targets. */
export function resolveGroup(c: Config, name: string): { targets: string[]; groups: string[] } {
  const visited = new Map<string, { targets: string[]; groups: string[] }>();
  const walk = (n: string): { targets: string[]; groups: string[] } => {
    const seen = visited.get(n);
    if (seen) return seen;
    const g = c.groups.find((x) => x.name === n);
    if (!g) return { targets: [n], groups: [] };
    visited.set(n, { targets: [], groups: [] });
    const targets: string[] = [];
    const groups = [n];
    for (const t of g.targets) {
      const sub = walk(t);
      targets.push(...(sub.targets.length ? sub.targets : [t]));
      groups.push(...sub.groups);
    }
    const r = { targets, groups };
    visited.set(n, r);
    return r;
  };
  const r = walk(name);
  return { targets: dedup(r.targets), groups: dedup(r.groups) };
}

/** Resolves one target: inherits in order, then its own fields, then --set, then buildx's defaults. */
export function resolveTarget(c: Config, name: string, overrides: Overrides): ResolvedTarget {
  const visited = new Map<string, Target | null>();
  const walk = (n: string, from?: string): Target | null => {
    if (visited.has(n)) return visited.get(n) ?? null;
    visited.set(n, null);
    const t = c.targets.find((x) => x.name === n);
    if (!t) {
      throw new BakeError(
        'bake_unknown_target',
        from ? `target "${from}" inherits "${n}", which is not defined` : `failed to find target ${n}`,
        from ? undefined : `defined targets: ${c.targets.map((x) => x.name).join(', ') || 'none'}`,
      );
    }
    let tt: Target = { name: n };
    for (const parent of t.inherits ?? []) {
      const p = walk(parent, n);
      if (p) tt = mergeTarget(tt, p);
    }
    let m = mergeTarget({ name: n }, tt);
    m = mergeTarget(m, t);
    m = normalize(applyOverrides(m, overrides.get(n)));
    m.name = n;
    visited.set(n, m);
    return m;
  };
  const t = walk(name) as Target;
  const { inherits: _inherits, args, labels, ...rest } = t;
  const out: ResolvedTarget = {
    ...rest,
    context: cleanContext(t.context ?? '.'),
    dockerfile: t.dockerfile ? t.dockerfile : 'Dockerfile',
  };
  const a = nonNull(args);
  const l = nonNull(labels);
  if (a) out.args = a;
  if (l) out.labels = l;
  return out;
}

function nonNull(m?: Record<string, string | null>): Record<string, string> | undefined {
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (v !== null) out[k] = v;
  return out;
}

/** Go's path.Clean, which buildx applies to a local context before printing it. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(seg);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? (rooted ? '/' : '.') : s;
}

function cleanContext(ctx: string): string {
  return cleanPath(ctx.startsWith('cwd://') ? ctx.slice('cwd://'.length) : ctx);
}
