import { PlatformError } from './errors.js';

/** An OCI platform, normalised the way containerd does (`platforms.Normalize`). */
export interface Platform {
  os: string;
  architecture: string;
  /** '' when the architecture has none; arm64 always carries its variant ('v8' by default). */
  variant: string;
}

// Go's GOOS / GOARCH values: anything else is far more likely a typo than a real platform.
const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'illumos',
  'ios',
  'js',
  'linux',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'wasip1',
  'windows',
]);
const KNOWN_ARCH = new Set([
  '386',
  'amd64',
  'arm',
  'arm64',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'ppc64',
  'ppc64le',
  'riscv64',
  's390x',
  'wasm',
]);

const ARCH_ALIASES: Record<string, [string, string?]> = {
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  x64: ['amd64'],
  amd64: ['amd64'],
  i386: ['386'],
  i686: ['386'],
  '386': ['386'],
  aarch64: ['arm64'],
  arm64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
  arm: ['arm'],
};

function usage(input: string, why?: string): PlatformError {
  const detail = why ? ` (${why})` : '';
  return new PlatformError(
    `unknown platform ${JSON.stringify(input)}${detail}: use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64`,
  );
}

function normalizeOs(os: string): string {
  return os === 'macos' ? 'darwin' : os;
}

function normalizeArch(input: string, arch: string, variant: string): [string, string] {
  const alias = ARCH_ALIASES[arch];
  const a = alias ? alias[0] : arch;
  let v = variant;
  if (alias?.[1]) {
    if (v && v !== alias[1] && `v${v}` !== alias[1]) throw usage(input, `${arch} implies ${alias[1]}`);
    v = alias[1];
  }
  if (!KNOWN_ARCH.has(a)) throw usage(input, `unknown architecture ${JSON.stringify(arch)}`);
  if (/^\d/.test(v)) v = `v${v}`;
  switch (a) {
    case 'arm64':
      if (v === '' || v === 'v8.0') v = 'v8';
      if (!/^v(8(\.[1-9])?|9(\.[0-9])?)$/.test(v)) throw usage(input, `unknown arm64 variant ${v}`);
      if (v === 'v9.0') v = 'v9';
      break;
    case 'arm':
      if (v === '') v = 'v7';
      if (!/^v[5-8]$/.test(v)) throw usage(input, `unknown arm variant ${v}`);
      break;
    case 'amd64':
      if (v === 'v1') v = '';
      if (v !== '' && !/^v[2-4]$/.test(v)) throw usage(input, `unknown amd64 variant ${v}`);
      break;
    default:
      if (v !== '') throw usage(input, `${a} has no variants`);
  }
  return [a, v];
}

/**
 * Parses `OS/ARCH[/VARIANT]`, `ARCH` or `OS` (case-insensitive) into a normalised Platform.
 * A lone architecture means linux; a lone OS means its amd64. Aliases: x86_64/x86-64 → amd64,
 * aarch64 → arm64 (variant v8), armhf → arm/v7, armel → arm/v6, i386 → 386; arm defaults to v7.
 * Throws PlatformError on anything unknown.
 */
export function parsePlatform(input: string): Platform {
  if (typeof input !== 'string') throw usage(String(input));
  const s = input.trim().toLowerCase();
  const parts = s.split('/');
  if (s === '' || parts.length > 3 || parts.some((p) => p === '' || !/^[a-z0-9._-]+$/.test(p))) {
    throw usage(input);
  }
  let os: string;
  let arch: string;
  let variant = '';
  if (parts.length === 1) {
    const only = parts[0]!;
    if (KNOWN_OS.has(normalizeOs(only))) {
      os = normalizeOs(only);
      arch = 'amd64';
    } else if (ARCH_ALIASES[only] || KNOWN_ARCH.has(only)) {
      os = 'linux';
      arch = only;
    } else {
      throw usage(input);
    }
  } else {
    os = normalizeOs(parts[0]!);
    arch = parts[1]!;
    variant = parts[2] ?? '';
    if (!KNOWN_OS.has(os)) throw usage(input, `unknown operating system ${JSON.stringify(parts[0])}`);
  }
  const [a, v] = normalizeArch(input, arch, variant);
  return { os, architecture: a, variant: v };
}

/**
 * The canonical string of a platform: OS/ARCH[/VARIANT], omitting the default variants
 * (arm64's v8 and amd64's v1), so linux/arm64 and linux/arm/v7 — the spelling docker prints.
 */
export function formatPlatform(p: Platform): string {
  const defaultVariant = (p.architecture === 'arm64' && p.variant === 'v8') || p.variant === '';
  return defaultVariant ? `${p.os}/${p.architecture}` : `${p.os}/${p.architecture}/${p.variant}`;
}

/** parsePlatform then formatPlatform: `aarch64` → linux/arm64, `armhf` → linux/arm/v7. Throws PlatformError. */
export function normalizePlatform(input: string): string {
  return formatPlatform(parsePlatform(input));
}

/** A platform in its normalised spelling, or as given when it is not one this code knows (for messages). */
export function normalizeOrKeep(input: string): string {
  try {
    return input ? normalizePlatform(input) : input;
  } catch {
    return input;
  }
}

function variantNumber(v: string): number {
  return v === '' ? 1 : Number.parseFloat(v.slice(1));
}

/**
 * Whether a builder of `builderPlatform` runs `wanted` natively: same OS and architecture, and a
 * variant at least as new (an arm/v7 builder runs arm/v6, an arm64/v9 one runs arm64/v8, an
 * amd64/v3 one runs amd64). arm64 machines are not assumed to run 32-bit arm.
 */
export function platformMatches(builderPlatform: string | Platform, wanted: string | Platform): boolean {
  const b = typeof builderPlatform === 'string' ? parsePlatform(builderPlatform) : builderPlatform;
  const w = typeof wanted === 'string' ? parsePlatform(wanted) : wanted;
  if (b.os !== w.os || b.architecture !== w.architecture) return false;
  if (b.variant === w.variant) return true;
  if (['arm', 'arm64', 'amd64'].includes(b.architecture))
    return variantNumber(b.variant) >= variantNumber(w.variant);
  return false;
}

/** The platform of a Node process: `process.platform`/`process.arch` mapped to OCI names. */
export function platformOfProcess(
  nodePlatform: string = process.platform,
  nodeArch: string = process.arch,
  armVersion: string | number | undefined = (process.config.variables as { arm_version?: string })
    .arm_version,
): Platform {
  const os = nodePlatform === 'win32' ? 'windows' : nodePlatform === 'sunos' ? 'solaris' : nodePlatform;
  const arch: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le', // Node reports ppc64 for little-endian POWER too; big-endian Linux is gone
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  const architecture = arch[nodeArch];
  if (!architecture) throw new PlatformError(`unsupported host architecture ${JSON.stringify(nodeArch)}`);
  let variant = '';
  if (architecture === 'arm64') variant = 'v8';
  if (architecture === 'arm') variant = armVersion ? `v${armVersion}` : 'v7';
  return { os, architecture, variant };
}
