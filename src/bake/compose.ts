// Compose files as bake reads them (buildx bake/compose.go): every service with a `build:` section
// is a target of the same name (dots become underscores), all of them in the `default` group; the
// service's `image:` is the tag when the build names none; services without `build:` are skipped.
// Values are interpolated from the environment and ./.env as Compose does.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BakeError } from './errors.js';
import { unsupportedContext } from './hcl-load.js';
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
} from './model.js';

type Y = unknown;
type YMap = Record<string, Y>;

const isMap = (v: Y): v is YMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compose build keys depot cannot honour: refused by name rather than dropped. */
const UNSUPPORTED_BUILD_KEYS = [
  'additional_contexts',
  'entitlements',
  'extra_hosts',
  'isolation',
  'privileged',
  'provenance',
  'sbom',
  'shm_size',
  'ulimits',
];
const SUPPORTED_BUILD_KEYS = [
  'context',
  'dockerfile',
  'dockerfile_inline',
  'args',
  'target',
  'tags',
  'platforms',
  'labels',
  'cache_from',
  'cache_to',
  'network',
  'secrets',
  'ssh',
  'no_cache',
  'pull',
];
const XBAKE_KEYS = [
  'tags',
  'cache-from',
  'cache-to',
  'secret',
  'ssh',
  'platforms',
  'output',
  'pull',
  'no-cache',
];

/** Reads KEY=VALUE lines of a .env file (Compose's dotenv, the common forms). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2] ?? '';
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2)
      v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
    else if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out[m[1] as string] = v;
  }
  return out;
}

/** The environment Compose interpolates from: the process's, then ./.env for names it lacks. */
export function composeEnv(env: NodeJS.ProcessEnv, cwd: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  const f = join(cwd, '.env');
  if (existsSync(f) && statSync(f).isFile()) {
    for (const [k, v] of Object.entries(parseDotEnv(readFileSync(f, 'utf8')))) if (!(k in out)) out[k] = v;
  }
  return out;
}

/** Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR:+alt}, $VAR and $$. */
export function interpolate(s: string, env: Record<string, string>, file: string): string {
  return s.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{[^}]*\}?/g,
    (m, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      const name = braced ?? bare;
      if (!name) throw new BakeError('bake_syntax', `${file}: invalid interpolation "${m}"`);
      const v = env[name];
      const unsetOrEmpty = v === undefined || (op?.startsWith(':') && v === '');
      const rest = arg === undefined ? '' : interpolate(arg, env, file);
      switch (op?.replace(':', '')) {
        case '-':
          return unsetOrEmpty ? rest : (v as string);
        case '?':
          if (unsetOrEmpty)
            throw new BakeError(
              'bake_env',
              `${file}: required variable ${name} is missing a value${rest ? `: ${rest}` : ''}`,
            );
          return v as string;
        case '+':
          return unsetOrEmpty ? '' : rest;
        default:
          return v ?? '';
      }
    },
  );
}

function interpolateAll(v: Y, env: Record<string, string>, file: string): Y {
  if (typeof v === 'string') return interpolate(v, env, file);
  if (Array.isArray(v)) return v.map((x) => interpolateAll(x, env, file));
  if (isMap(v)) {
    const out: YMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolateAll(x, env, file);
    return out;
  }
  return v;
}

/** Whether a YAML text looks like a Compose file (has a services or secrets map). */
export function looksLikeCompose(text: string): boolean {
  try {
    const doc = parseYaml(text);
    return isMap(doc) && (isMap(doc.services) || isMap(doc.secrets));
  } catch {
    return false;
  }
}

/** Merges Compose files: maps merge key by key, later scalars win, lists append without duplicates. */
function mergeCompose(a: Y, b: Y): Y {
  if (isMap(a) && isMap(b)) {
    const out: YMap = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeCompose(out[k], v) : v;
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = [...a];
    for (const x of b) if (!out.some((y) => JSON.stringify(y) === JSON.stringify(x))) out.push(x);
    return out;
  }
  return b;
}

function str(v: Y, what: string, file: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new BakeError('bake_syntax', `${file}: ${what} must be a string`);
}

function strList(v: Y, what: string, file: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new BakeError('bake_syntax', `${file}: ${what} must be a list`);
  return v.map((x) => str(x, what, file));
}

/** A Compose mapping given as a map or as a list of KEY=VALUE (KEY alone: undefined value). */
function mapping(v: Y, what: string, file: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (v === null || v === undefined) return out;
  if (Array.isArray(v)) {
    for (const x of v) {
      const s = str(x, what, file);
      const i = s.indexOf('=');
      if (i < 0) out[s] = undefined;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
    return out;
  }
  if (!isMap(v)) throw new BakeError('bake_syntax', `${file}: ${what} must be a map or a list`);
  for (const [k, x] of Object.entries(v)) out[k] = x === null ? undefined : str(x, `${what}.${k}`, file);
  return out;
}

function wrap<T>(file: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BakeError) throw e;
    throw new BakeError('bake_syntax', `${file}: ${what}: ${(e as Error).message}`);
  }
}

/** A "stringArray" of x-bake: a list, or one string split on blanks. */
function xList(v: Y, what: string, file: string): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  return strList(v, what, file);
}

function sortSsh(s: SshSpec[]): SshSpec[] {
  return [...s].sort((a, b) => {
    if (a.id !== b.id) return a.id < b.id ? -1 : 1;
    const pa = (a.paths ?? []).join('\0');
    const pb = (b.paths ?? []).join('\0');
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  });
}

/** Reads Compose files (already merged in order) into bake targets and the default group. */
export function loadCompose(
  files: { name: string; text: string }[],
  env: Record<string, string>,
): { groups: Group[]; targets: Target[] } {
  let doc: Y = {};
  for (const f of files) {
    let d: Y;
    try {
      d = parseYaml(f.text);
    } catch (e) {
      throw new BakeError('bake_syntax', `${f.name}: invalid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (d === null || d === undefined) throw new BakeError('bake_syntax', `${f.name}: empty compose file`);
    if (!isMap(d)) throw new BakeError('bake_syntax', `${f.name}: a compose file is a map at the top level`);
    const keep: YMap = {};
    if (d.services !== undefined) keep.services = d.services;
    if (d.secrets !== undefined) keep.secrets = d.secrets;
    if (Object.keys(keep).length === 0)
      throw new BakeError('bake_syntax', `${f.name}: empty compose file`, 'a compose file needs services');
    doc = mergeCompose(doc, interpolateAll(keep, env, f.name));
  }
  const file = files.map((f) => f.name).join(', ');
  const root = doc as YMap;
  const services = isMap(root.services) ? root.services : {};
  const topSecrets = isMap(root.secrets) ? root.secrets : {};
  const targets: Target[] = [];
  const group: Group = { name: 'default', targets: [] };
  for (const [svcName, svc0] of Object.entries(services)) {
    const svc = isMap(svc0) ? svc0 : {};
    if (svc.build === undefined || svc.build === null) continue;
    const name = svcName.replace(/\./g, '_');
    if (!/^[a-zA-Z0-9_-]+$/.test(name))
      throw new BakeError(
        'bake_syntax',
        `${file}: invalid service name "${name}": only [a-zA-Z0-9_-]+ are allowed`,
      );
    const build: YMap =
      typeof svc.build === 'string' ? { context: svc.build } : isMap(svc.build) ? svc.build : {};
    const where = `service "${svcName}" build`;
    for (const k of Object.keys(build)) {
      if (k.startsWith('x-')) continue;
      if (UNSUPPORTED_BUILD_KEYS.includes(k))
        throw new BakeError(
          'bake_unsupported',
          `${file}: ${where}: ${k} is not supported by depot bake`,
          'remove it',
        );
      if (!SUPPORTED_BUILD_KEYS.includes(k))
        throw new BakeError('bake_syntax', `${file}: ${where}: unknown key "${k}"`);
    }
    const t: Target = { name };
    if (build.context !== undefined && build.context !== '') {
      t.context = str(build.context, `${where}.context`, file);
      const bad = unsupportedContext(t.context);
      if (bad)
        throw new BakeError(
          'bake_unsupported',
          `${file}: ${where}: ${bad} are not supported by depot bake`,
          'use a local directory',
        );
    }
    if (build.dockerfile) t.dockerfile = str(build.dockerfile, `${where}.dockerfile`, file);
    if (build.dockerfile_inline)
      t.dockerfileInline = str(build.dockerfile_inline, `${where}.dockerfile_inline`, file);
    if (build.target) t.target = str(build.target, `${where}.target`, file);
    if (build.network) t.network = str(build.network, `${where}.network`, file);
    const tags = strList(build.tags, `${where}.tags`, file);
    if (tags.length) t.tags = tags;
    const platforms = strList(build.platforms, `${where}.platforms`, file);
    if (platforms.length) t.platforms = platforms;
    // Args named without a value come from the service's environment, then the process's.
    const svcEnv = mapping(svc.environment, `service "${svcName}" environment`, file);
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(mapping(build.args, `${where}.args`, file))) {
      const val = v ?? svcEnv[k] ?? env[k];
      if (val !== undefined) args[k] = val;
    }
    if (Object.keys(args).length) t.args = args;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(mapping(build.labels, `${where}.labels`, file))) labels[k] = v ?? '';
    t.labels = labels;
    const cacheFrom: CacheEntry[] = wrap(file, `${where}.cache_from`, () =>
      strList(build.cache_from, `${where}.cache_from`, file).flatMap(parseCacheEntries),
    );
    if (cacheFrom.length) t.cacheFrom = cacheFrom;
    const cacheTo: CacheEntry[] = wrap(file, `${where}.cache_to`, () =>
      strList(build.cache_to, `${where}.cache_to`, file).flatMap(parseCacheEntries),
    );
    if (cacheTo.length) t.cacheTo = cacheTo;
    const ssh: SshSpec[] = [];
    if (Array.isArray(build.ssh))
      for (const s of strList(build.ssh, `${where}.ssh`, file)) ssh.push(parseSsh(s));
    else if (isMap(build.ssh))
      for (const [id, p] of Object.entries(build.ssh))
        ssh.push(p ? { id, paths: [str(p, `${where}.ssh`, file)] } : { id });
    if (ssh.length) t.ssh = sortSsh(ssh);
    const secrets: SecretSpec[] = [];
    for (const s of Array.isArray(build.secrets) ? build.secrets : []) {
      const source =
        typeof s === 'string' ? s : isMap(s) ? str(s.source, `${where}.secrets.source`, file) : '';
      const def = topSecrets[source];
      if (!isMap(def))
        throw new BakeError(
          'bake_syntax',
          `${file}: ${where}: secret "${source}" is not defined in the top-level secrets`,
        );
      if (def.external)
        throw new BakeError('bake_unsupported', `${file}: unsupported external secret ${source}`);
      const sec: SecretSpec = { id: source };
      if (def.file) sec.src = str(def.file, `secrets.${source}.file`, file);
      if (def.environment) sec.env = str(def.environment, `secrets.${source}.environment`, file);
      secrets.push(sec);
    }
    if (secrets.length) t.secret = secrets;
    if (build.no_cache === true) t.noCache = true;
    if (build.pull === true) t.pull = true;
    applyXBake(t, build['x-bake'], file, where);
    if ((!t.tags || t.tags.length === 0) && typeof svc.image === 'string' && svc.image) t.tags = [svc.image];
    group.targets.push(name);
    targets.push(t);
  }
  return { groups: Object.keys(services).length ? [group] : [], targets };
}

function applyXBake(t: Target, x: Y, file: string, where: string): void {
  if (x === undefined || x === null) return;
  if (!isMap(x)) throw new BakeError('bake_syntax', `${file}: ${where}.x-bake must be a map`);
  const w = `${where}.x-bake`;
  for (const k of Object.keys(x))
    if (!XBAKE_KEYS.includes(k))
      throw new BakeError(
        'bake_unsupported',
        `${file}: ${w}: ${k} is not supported by depot bake`,
        `x-bake takes: ${XBAKE_KEYS.join(', ')}`,
      );
  const uniq = (a: string[]) => [...new Set(a)];
  if (x.tags !== undefined) t.tags = uniq([...(t.tags ?? []), ...xList(x.tags, `${w}.tags`, file)]);
  if (x.platforms !== undefined)
    t.platforms = uniq([...(t.platforms ?? []), ...xList(x.platforms, `${w}.platforms`, file)]);
  if (x['cache-from'] !== undefined)
    t.cacheFrom = [
      ...(t.cacheFrom ?? []),
      ...wrap(file, w, () => xList(x['cache-from'], w, file).flatMap(parseCacheEntries)),
    ];
  if (x['cache-to'] !== undefined)
    t.cacheTo = [
      ...(t.cacheTo ?? []),
      ...wrap(file, w, () => xList(x['cache-to'], w, file).flatMap(parseCacheEntries)),
    ];
  if (x.secret !== undefined)
    t.secret = [...(t.secret ?? []), ...wrap(file, w, () => xList(x.secret, w, file).map(parseSecret))];
  if (x.ssh !== undefined) t.ssh = sortSsh([...(t.ssh ?? []), ...xList(x.ssh, w, file).map(parseSsh)]);
  if (x.output !== undefined) {
    const outs: ExportEntry[] = wrap(file, w, () => xList(x.output, w, file).map(parseExport));
    t.output = [...(t.output ?? []), ...outs];
  }
  if (typeof x.pull === 'boolean') t.pull = x.pull;
  if (typeof x['no-cache'] === 'boolean') t.noCache = x['no-cache'];
}
