// `depot bake --print`: the resolved definition in the JSON shape `docker buildx bake --print`
// writes (Go's json.MarshalIndent of buildx's Group and Target structs): struct fields in their
// declared order, empty ones omitted, map keys sorted, Go's escaping of <, > and &, and buildx's
// escaping of "${" in args, labels and dockerfile-inline so the output reads back as a bake file.
import type { CacheEntry, ExportEntry, Group, ResolvedTarget } from './model.js';

type J = string | number | boolean | null | J[] | Entries;
/** An object whose key order is kept as given (JS objects would hoist integer-like keys). */
class Entries {
  constructor(readonly entries: [string, J][]) {}
}

const sorted = (o: Record<string, J>): Entries =>
  new Entries(
    Object.keys(o)
      // Go sorts map keys by their UTF-8 bytes.
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map((k) => [k, o[k] as J]),
  );

/** buildx Target.MarshalJSON: keeps interpolation-looking text literal when read back. */
const esc = (s: string) => s.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');

function goString(s: string): string {
  return JSON.stringify(s)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function render(v: J, indent: string): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + render(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v.entries.length === 0) return '{}';
  return `{\n${v.entries.map(([k, x]) => `${inner}${goString(k)}: ${render(x, inner)}`).join(',\n')}\n${indent}}`;
}

const cacheJson = (c: CacheEntry): J => sorted({ ...c.attrs, type: c.type });
const exportJson = (e: ExportEntry): J =>
  sorted({ ...e.attrs, type: e.type, ...(e.dest ? { dest: e.dest } : {}) });

function targetJson(t: ResolvedTarget): J {
  const out: [string, J][] = [];
  const add = (k: string, v: J | undefined) => {
    if (v === undefined) return;
    if (Array.isArray(v) && v.length === 0) return;
    if (v instanceof Entries && v.entries.length === 0) return;
    out.push([k, v]);
  };
  const map = (m?: Record<string, string>) =>
    m ? sorted(Object.fromEntries(Object.entries(m).map(([k, x]) => [k, esc(x)]))) : undefined;
  if (t.description) add('description', t.description);
  add('context', t.context);
  add('dockerfile', t.dockerfile);
  add('dockerfile-inline', t.dockerfileInline === undefined ? undefined : esc(t.dockerfileInline));
  add('args', map(t.args));
  add('labels', map(t.labels));
  add('tags', t.tags);
  add('cache-from', t.cacheFrom?.map(cacheJson));
  add('cache-to', t.cacheTo?.map(cacheJson));
  add('target', t.target);
  add(
    'secret',
    t.secret?.map((s) => {
      const e: [string, J][] = [];
      if (s.id) e.push(['id', s.id]);
      if (s.src) e.push(['src', s.src]);
      if (s.env) e.push(['env', s.env]);
      return new Entries(e);
    }),
  );
  add(
    'ssh',
    t.ssh?.map((s) => {
      const e: [string, J][] = [];
      if (s.id) e.push(['id', s.id]);
      if (s.paths?.length) e.push(['paths', s.paths]);
      return new Entries(e);
    }),
  );
  add('platforms', t.platforms);
  add('output', t.output?.map(exportJson));
  add('pull', t.pull);
  add('no-cache', t.noCache);
  add('network', t.network);
  // buildx's normalize() adds the entitlement a host network needs, and prints it.
  if (t.network === 'host') add('entitlements', ['network.host']);
  return new Entries(out);
}

/** The text `docker buildx bake --print` would write for these groups and targets (with a newline). */
export function printBake(groups: Group[], targets: ResolvedTarget[]): string {
  const top: [string, J][] = [];
  if (groups.length)
    top.push([
      'group',
      sorted(
        Object.fromEntries(
          groups.map((g) => [
            g.name,
            new Entries([
              ...(g.description ? [['description', g.description] as [string, J]] : []),
              ['targets', g.targets],
            ]),
          ]),
        ),
      ),
    ]);
  top.push(['target', sorted(Object.fromEntries(targets.map((t) => [t.name, targetJson(t)])))]);
  return `${render(new Entries(top), '')}\n`;
}
