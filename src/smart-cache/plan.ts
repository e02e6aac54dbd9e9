/**
 * The smart cache's plan: where a Dockerfile copies the whole context and then runs a dependency
 * installer (`COPY . .` then `RUN npm ci`), the install can run on a layer holding only the
 * installer's manifests, with the rest of the copy landing after it — so a source edit reuses the
 * install. That is sound only when the install reads nothing but those manifests and writes
 * nothing the later copy would change: each rule below is one way it could read or write more, and
 * a candidate that breaks any of them is left as it is, with the reason (docs/smart-cache.md).
 */
import { declarations, flagsOf, flagText, parseInstructions } from '../dockerfile/parser.js';
import { INSTALLERS, NOT_TAKEN } from './allow-list.js';

/** What the planner may look at in the build context (after the ignore rules). */
export interface ContextFiles {
  /** Whether `path` (context-relative, `/`-separated) is a file the build would send. */
  has(path: string): boolean;
  /** Whether anything under directory `dir` is sent. */
  hasUnder(dir: string): boolean;
  read(path: string): Promise<string>;
}

export interface SmartRewrite {
  /** 1-based lines of the COPY and the install in the original Dockerfile. */
  copyLine: number;
  installLine: number;
  installer: string;
  /** The manifests the install reads, copied before it. */
  manifests: string[];
  /** The install and the copy of the rest as BuildKit names their steps (`RUN npm ci`, `COPY . .`). */
  install: string;
  rest: string;
}

export interface SmartRefusal {
  line: number;
  /** One line: why the step is left as it is. */
  reason: string;
}

export interface SmartPlan {
  rewrites: SmartRewrite[];
  refusals: SmartRefusal[];
  /** The Dockerfile to build: the original when nothing was rewritten. */
  dockerfile: string;
}

/** ENV set by the stage's instructions before `upTo` (the base image's own is not known). */
function stageEnv(
  instructions: Array<{ keyword: string; rest: string }>,
  upTo: number,
  escapeChar: string,
): Map<string, string> {
  let from = upTo;
  while (from > 0 && instructions[from]!.keyword !== 'FROM') from--;
  const env = new Map<string, string>();
  for (let k = from; k < upTo; k++) {
    const { keyword, rest } = instructions[k]!;
    if (keyword !== 'ENV') continue;
    for (const [name, value] of declarations(keyword, rest, escapeChar)) env.set(name, value ?? '');
  }
  return env;
}

/**
 * The COPY lines that put `manifests` where `COPY . .` would: one per directory, since a COPY of
 * `dir/file` into `./` would drop the directory.
 */
function manifestCopies(flags: string, manifests: string[]): string[] {
  const byDir = new Map<string, string[]>();
  for (const f of manifests) {
    const dir = f.includes('/') ? f.slice(0, f.lastIndexOf('/') + 1) : '';
    byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
  }
  return [...byDir].map(([dir, fs]) => `COPY ${flags}${fs.join(' ')} ./${dir}`);
}

/**
 * The plan for `dockerfile` over `files`: every `COPY . <workdir>` directly followed by a known
 * install is rewritten; every other install-looking step after a whole-context copy is refused
 * with its reason.
 */
export async function planSmartCache(dockerfile: string, files: ContextFiles): Promise<SmartPlan> {
  const { instructions, escapeChar } = parseInstructions(dockerfile);
  const rewrites: SmartRewrite[] = [];
  const refusals: SmartRefusal[] = [];
  const lines = dockerfile.split('\n');
  const inserts = new Map<number, string[]>();
  const moved = new Set<number>();
  for (let k = 0; k + 1 < instructions.length; k++) {
    const copy = instructions[k]!;
    const run = instructions[k + 1]!;
    if (copy.keyword !== 'COPY' || run.keyword !== 'RUN') continue;
    const c = flagsOf(copy.rest);
    const words = c.args.trim().split(/\s+/);
    // Only the whole context copied into the working directory: `COPY . .` (or `./`).
    if (words.length !== 2 || !['.', './'].includes(words[0]!) || !['.', './'].includes(words[1]!)) continue;
    const r = flagsOf(run.rest);
    const command = r.args.trim();
    const refuse = (reason: string) => refusals.push({ line: run.line, reason });
    if (c.flags.some(([f]) => ['from', 'link', 'parents', 'exclude'].includes(f))) continue;
    const installer = INSTALLERS.find((i) => i.family.test(command));
    if (!installer?.command.test(command)) {
      if (installer)
        refuse(
          /[;&|<>$`(){}\\'"]/.test(command)
            ? 'the install command is not a plain command (it runs more than the install)'
            : 'the install has options the smart cache does not know',
        );
      else {
        const known = NOT_TAKEN.find(([re]) => re.test(command));
        if (known) refuse(known[1]);
      }
      continue;
    }
    // Only cache mounts: a bind mount or a secret could feed the install something else.
    const mounts = r.flags.filter(([f]) => f === 'mount');
    if (r.flags.length !== mounts.length || mounts.some(([, v]) => !/^(?:[^,]*,)*type=cache(,|$)/.test(v))) {
      refuse('the install has RUN flags other than cache mounts');
      continue;
    }
    const missing = installer.required.filter((f) => !files.has(f));
    if (missing.length) {
      refuse(`${missing.join(', ')} is not in the build context`);
      continue;
    }
    const oneOf = (installer.oneOf ?? []).map((g) => g.find((f) => files.has(f)));
    if (oneOf.some((f) => f === undefined)) {
      refuse(
        `no lockfile in the build context (${(installer.oneOf ?? []).map((g) => g.join(' or ')).join(', ')})`,
      );
      continue;
    }
    const step = { command, env: stageEnv(instructions, k, escapeChar) };
    const written = (await installer.writes(files, step)).find((p) => files.has(p) || files.hasUnder(p));
    if (written) {
      const shown = files.hasUnder(written) ? `${written}/` : written;
      refuse(`the build context holds ${shown}, which the install writes (add it to .dockerignore)`);
      continue;
    }
    const verdict = await installer.check?.(files, step);
    if (typeof verdict === 'string') {
      refuse(verdict);
      continue;
    }
    const manifests: string[] = [];
    for (const f of [
      ...installer.required,
      ...(oneOf as string[]),
      ...installer.optional.filter((f) => files.has(f)),
      ...(verdict?.also ?? []),
    ])
      if (!manifests.includes(f)) manifests.push(f);
    // A name COPY would read as a pattern (or split) cannot be copied as itself.
    const odd = manifests.find((f) => !/^[\w.@+-][\w./@+-]*$/.test(f) || f.split('/').includes('..'));
    if (odd) {
      refuse(`the install reads ${odd}, a name the smart cache does not copy`);
      continue;
    }
    rewrites.push({
      copyLine: copy.line,
      installLine: run.line,
      installer: installer.name,
      manifests,
      install: `RUN ${run.rest}`,
      rest: `COPY ${copy.rest}`,
    });
    // The install's own lines, up to the next instruction (without trailing blanks and comments).
    const next = instructions[k + 2]?.line ?? lines.length + 1;
    let end = next - 1;
    while (end > run.line && /^\s*(#|$)/.test(lines[end - 1]!)) end--;
    const runText: string[] = [];
    for (let n = run.line; n <= end; n++) {
      runText.push(lines[n - 1]!);
      moved.add(n);
    }
    const flags = c.flags.length ? `${c.flags.map(flagText).join(' ')} ` : '';
    inserts.set(copy.line, [...manifestCopies(flags, manifests), ...runText]);
  }
  if (rewrites.length === 0) return { rewrites, refusals, dockerfile };
  const out: string[] = [];
  lines.forEach((text, idx) => {
    const n = idx + 1;
    const before = inserts.get(n);
    if (before) out.push(...before);
    if (!moved.has(n)) out.push(text);
  });
  return { rewrites, refusals, dockerfile: out.join('\n') };
}
