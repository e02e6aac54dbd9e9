/**
 * The smart cache's plan: where a Dockerfile copies the whole context and then runs a dependency
 * installer (`COPY . .` then `RUN npm ci`), the install can run on a layer holding only the
 * installer's manifests, with the rest of the copy landing after it — so a source edit reuses the
 * install. That is sound only when the install reads nothing but those manifests and writes
 * nothing the later copy would change: each rule below is one way it could read or write more, and
 * a candidate that breaks any of them is left as it is, with the reason (docs/smart-cache.md).
 */
import { flagsOf, flagText } from '../dockerfile/flags.js';
import { parseInstructions } from '../registry/base-images.js';

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

interface Installer {
  name: string;
  /** The whole RUN command (after cache mounts), as written. */
  command: RegExp;
  /** Manifests that must all be sent. */
  required: string[];
  /** Groups of which one must be sent (e.g. the lockfile). */
  oneOf?: string[][];
  /** Read by the installer when present: copied too. */
  optional: string[];
  /** Directories the installer writes in the working directory: the context must hold none. */
  writes: string[];
  /** Anything else the manifests say that makes the install read more. */
  check?: (files: ContextFiles, command: string) => Promise<string | undefined>;
}

const NPM_LIFECYCLE = [
  'preinstall',
  'install',
  'postinstall',
  'prepublish',
  'preprepare',
  'prepare',
  'postprepare',
];

/** package.json facts that make an install read more than its manifests. */
async function checkPackageJson(files: ContextFiles, command: string): Promise<string | undefined> {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(await files.read('package.json')) as Record<string, unknown>;
  } catch {
    return 'package.json is not valid JSON';
  }
  const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
  const hooks = NPM_LIFECYCLE.filter((s) => typeof scripts[s] === 'string');
  if (hooks.length > 0 && !/--ignore-scripts\b/.test(command))
    return `package.json runs ${hooks.join(', ')} on install, which may read any file`;
  if (pkg.workspaces !== undefined)
    return 'package.json declares workspaces: the install reads their manifests too';
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = (pkg[field] ?? {}) as Record<string, unknown>;
    for (const [name, spec] of Object.entries(deps))
      if (typeof spec === 'string' && /^(file:|link:|\.{0,2}\/)/.test(spec))
        return `dependency ${name} is a local path (${spec}): the install reads it`;
  }
  return undefined;
}

/** requirements.txt lines that make `pip install -r` read more than the file. */
async function checkRequirements(files: ContextFiles): Promise<string | undefined> {
  const lines = (await files.read('requirements.txt')).split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (/^(-e|--editable)\b/.test(line)) return `requirements.txt installs an editable package (${line})`;
    if (/^(-r|--requirement|-c|--constraint)\b/.test(line))
      return `requirements.txt includes another file (${line})`;
    // Options that only say where packages come from; any other (`-f ./wheels`) may read the context.
    if (
      line.startsWith('-') &&
      !/^(-i|--index-url|--extra-index-url|--trusted-host|--prefer-binary|--only-binary|--no-binary|--pre)\b/.test(
        line,
      )
    )
      return `requirements.txt has an option the smart cache does not know (${line})`;
    if (/^(\.|\/|file:)/.test(line) || /\s@\s*file:/.test(line))
      return `requirements.txt installs a local path (${line})`;
  }
  return undefined;
}

/** go.mod `replace` directives to local directories make `go mod download` read them. */
async function checkGoMod(files: ContextFiles): Promise<string | undefined> {
  const text = await files.read('go.mod');
  const local = /=>\s*(\.{1,2}\/|\/)\S*/.exec(text);
  return local ? `go.mod replaces a module with a local directory (${local[0].trim()})` : undefined;
}

const NPM_FLAGS =
  '(?:\\s+(?:--omit=\\w+|--only=\\w+|--production|--ignore-scripts|--no-audit|--no-fund|--prefer-offline|--loglevel[= ]\\w+))*';

/** The installers the smart cache knows, with the exact files each reads. */
const INSTALLERS: Installer[] = [
  {
    name: 'npm ci',
    command: new RegExp(`^npm\\s+ci${NPM_FLAGS}$`),
    required: ['package.json'],
    oneOf: [['package-lock.json', 'npm-shrinkwrap.json']],
    optional: ['.npmrc'],
    writes: ['node_modules'],
    check: checkPackageJson,
  },
  {
    name: 'pip install -r requirements.txt',
    command:
      /^pip3?\s+install(?:\s+(?:--no-cache-dir|--user|-q|--quiet|--disable-pip-version-check))*\s+-r\s+requirements\.txt(?:\s+(?:--no-cache-dir|--user|-q|--quiet))*$/,
    required: ['requirements.txt'],
    optional: ['pip.conf'],
    writes: [],
    check: (files) => checkRequirements(files),
  },
  {
    name: 'go mod download',
    command: /^go\s+mod\s+download(?:\s+-x)?$/,
    required: ['go.mod'],
    optional: ['go.sum'],
    writes: [],
    check: (files) => checkGoMod(files),
  },
];

/** Commands that look like an install the smart cache does not take, and why. */
const NOT_TAKEN: Array<[RegExp, string]> = [
  [
    /^npm\s+(install|i)\b/,
    '`npm install` may rewrite package-lock.json, which the later copy would replace: use `npm ci`',
  ],
  [
    /^(yarn|pnpm|bundle|composer|poetry)\b/,
    "this installer is not on the smart cache's list yet (npm ci, pip install -r requirements.txt, go mod download)",
  ],
];

/**
 * The plan for `dockerfile` over `files`: every `COPY . <workdir>` directly followed by a known
 * install is rewritten; every other install-looking step after a whole-context copy is refused
 * with its reason.
 */
export async function planSmartCache(dockerfile: string, files: ContextFiles): Promise<SmartPlan> {
  const { instructions } = parseInstructions(dockerfile);
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
    const installer = INSTALLERS.find((i) => i.command.test(command));
    if (!installer) {
      if (/^(npm\s+ci|pip3?\s+install|go\s+mod\s+download)\b/.test(command))
        refuse(
          /[;&|<>$`]/.test(command)
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
    const written = installer.writes.find((d) => files.hasUnder(d));
    if (written) {
      refuse(`the build context holds ${written}/, which the install writes (add it to .dockerignore)`);
      continue;
    }
    const why = await installer.check?.(files, command);
    if (why) {
      refuse(why);
      continue;
    }
    const manifests = [
      ...installer.required,
      ...(oneOf as string[]),
      ...installer.optional.filter((f) => files.has(f)),
    ];
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
    inserts.set(copy.line, [`COPY ${flags}${manifests.join(' ')} ./`, ...runText]);
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
