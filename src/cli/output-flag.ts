/**
 * `-o/--output` as docker and buildx read it: `type=local,dest=DIR`, `type=tar,dest=FILE|-`,
 * `DIR` (local), `-` (tar to stdout), and the image outputs depot already has flags for:
 * `type=image` (the default), `type=docker` (= --load), `type=registry` (= --push).
 */
import { DepotError } from '../errors/index.js';

/** A parsed -o: files to bring back, or an image output folded into --load / --push / -t. */
export type OutputSpec =
  | { kind: 'files'; type: 'local' | 'tar'; dest: string }
  | { kind: 'image'; load: boolean; push: boolean; names: string[] };

const bad = (message: string, hint?: string) => new DepotError('invalid_flag', message, hint);

function parseCsv(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw bad(
        `invalid -o ${JSON.stringify(value)}: ${JSON.stringify(field)} is not key=value`,
        'e.g. -o type=local,dest=out',
      );
    const key = field.slice(0, eq).trim().toLowerCase();
    if (out.has(key)) throw bad(`invalid -o ${JSON.stringify(value)}: ${key} given twice`);
    out.set(key, field.slice(eq + 1));
  }
  return out;
}

/** Parses the -o values (docker takes one); undefined when none was given. */
export function parseOutputFlag(values: readonly string[]): OutputSpec | undefined {
  if (values.length === 0) return undefined;
  if (values.length > 1) throw bad('only one -o/--output is supported', 'drop all but one -o');
  const value = values[0]!;
  if (value === '') throw bad('invalid -o "": empty value', 'e.g. -o type=local,dest=out or -o out');
  if (value === '-') return { kind: 'files', type: 'tar', dest: '-' };
  if (!value.includes('=')) return { kind: 'files', type: 'local', dest: value };
  const f = parseCsv(value);
  const type = f.get('type');
  if (!type)
    throw bad(
      `invalid -o ${JSON.stringify(value)}: no type`,
      'use type=local, tar, image, docker or registry',
    );
  const allow = (keys: string[]) => {
    for (const k of f.keys())
      if (k !== 'type' && !keys.includes(k))
        throw bad(`invalid -o ${JSON.stringify(value)}: type=${type} takes no ${k}`);
  };
  switch (type) {
    case 'local':
    case 'tar': {
      allow(['dest']);
      const dest = f.get('dest');
      if (dest === undefined || dest === '')
        throw bad(
          `invalid -o ${JSON.stringify(value)}: type=${type} needs dest`,
          type === 'local'
            ? 'e.g. -o type=local,dest=out'
            : 'e.g. -o type=tar,dest=out.tar (or dest=- for stdout)',
        );
      if (type === 'local' && dest === '-')
        throw bad('-o type=local cannot write to stdout', 'use -o type=tar,dest=- (or -o -)');
      return { kind: 'files', type, dest };
    }
    case 'image':
    case 'docker':
    case 'registry': {
      allow(['name', 'push']);
      const push = f.get('push');
      if (push !== undefined && push !== 'true' && push !== 'false')
        throw bad(`invalid -o ${JSON.stringify(value)}: push=${push}`, 'use push=true or push=false');
      if (type === 'docker' && push === 'true')
        throw bad('-o type=docker loads the image; it does not push', 'use -o type=registry to push');
      const names = (f.get('name') ?? '')
        .split(/[,;]/)
        .map((n) => n.trim())
        .filter(Boolean);
      return {
        kind: 'image',
        load: type === 'docker',
        push: type === 'registry' || push === 'true',
        names,
      };
    }
    default:
      throw bad(
        `invalid -o ${JSON.stringify(value)}: unknown type ${JSON.stringify(type)}`,
        'use type=local, tar, image, docker or registry',
      );
  }
}

/** The flags -o conflicts with, checked once every flag is known. */
export function checkOutputFlags(
  spec: OutputSpec | undefined,
  opts: {
    load?: boolean;
    push?: boolean;
    quiet?: boolean;
    progress?: string;
    platform?: string;
    stdoutIsTty: boolean;
  },
): void {
  if (!spec) return;
  if (opts.load || opts.push)
    throw bad(
      `-o cannot be combined with ${opts.load ? '--load' : '--push'}`,
      '-o type=docker is --load, -o type=registry is --push: use one of them',
    );
  if (spec.kind !== 'files') return;
  if (spec.type === 'tar' && (opts.platform ?? '').includes(','))
    throw bad(
      '-o type=tar takes one platform',
      'use -o type=local,dest=DIR (a directory per platform) or one --platform',
    );
  if (spec.dest === '-') {
    if (opts.quiet)
      throw bad(
        '-q prints the image id on stdout, where -o - writes the tar',
        'drop -q or write the tar to a file',
      );
    if (opts.progress === 'json')
      throw bad('--progress json writes to stdout, where -o - writes the tar', 'write the tar to a file');
    if (opts.stdoutIsTty)
      throw bad(
        'refusing to write a tar to the terminal',
        'redirect stdout (-o - > out.tar) or use -o type=tar,dest=FILE',
      );
  }
}

/** Opens the writer of a files output once the builder said it can send one; undefined otherwise. */
export async function openOutputWriter(
  spec: OutputSpec | undefined,
  hello: { builderId: string; capabilities: readonly string[] },
) {
  if (spec?.kind !== 'files') return undefined;
  if (!hello.capabilities.includes(`build.output.${spec.type}`))
    throw bad(
      `builder ${hello.builderId || ''} cannot send -o type=${spec.type} outputs`.replace('  ', ' '),
      'upgrade the builder (it needs a BuildKit session driver)',
    );
  const { createLocalWriter, createTarWriter } = await import('../build-output/index.js');
  return spec.type === 'local' ? createLocalWriter(spec.dest) : createTarWriter(spec.dest);
}

/** One line about a written output, e.g. "output: 12 files (3.1MiB) in out/, 2.0MiB sent". */
export function outputLine(
  spec: { type: string; dest: string },
  s: { files: number; filesUnchanged: number; bytes: number; bytesSent: number },
): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(n < 1048576 ? 2 : 1)}MiB`;
  if (spec.type === 'tar')
    return `output: ${mib(s.bytes)} tar ${spec.dest === '-' ? 'on stdout' : `in ${spec.dest}`}`;
  const unchanged = s.filesUnchanged ? `, ${s.filesUnchanged} unchanged` : '';
  return `output: ${s.files} file${s.files === 1 ? '' : 's'} (${mib(s.bytes)}) in ${spec.dest}, ${mib(s.bytesSent)} sent${unchanged}`;
}

/**
 * Reads `-o` into build options: an image output becomes --load / --push / -t, a files output
 * stays as `output`; conflicting combinations are refused here, before anything runs.
 */
export function applyOutputFlag<
  T extends {
    output?: unknown;
    load?: boolean;
    push?: boolean;
    tag: string[];
    quiet?: boolean;
    progress?: string;
    platform?: string;
  },
>(opts: T): Omit<T, 'output'> & { output?: OutputSpec } {
  const raw = Array.isArray(opts.output) ? (opts.output as string[]) : [];
  const spec = parseOutputFlag(raw);
  checkOutputFlags(spec, { ...opts, stdoutIsTty: Boolean(process.stdout.isTTY) });
  if (spec?.kind === 'image')
    return {
      ...opts,
      output: undefined,
      load: opts.load || spec.load,
      push: opts.push || spec.push,
      tag: [...opts.tag, ...spec.names],
    };
  return { ...opts, output: spec };
}
