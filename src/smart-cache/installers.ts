/**
 * The dependency installers depot knows, loosely: which RUN commands install dependencies, the
 * manifests each reads and the lockfile that pins what it installs. One table for everything that
 * talks about installs — the builder's cache-buster suggestions, the Dockerfile advisor — while
 * the smart cache's plan (plan.ts) holds the strict, exact forms it may rewrite.
 */
export interface InstallTool {
  /** The tool, e.g. "npm". */
  name: string;
  /** Matches a RUN command (anywhere in a chain) that runs this tool's install. */
  detect: RegExp;
  /** What the install reads: the files to copy before it, in the order to name them. */
  manifests: string[];
  /** Files of which one pins the installed versions. */
  lockfiles: string[];
}

export const INSTALL_TOOLS: readonly InstallTool[] = [
  {
    name: 'npm',
    detect: /\bnpm\s+(ci|install|i)\b/,
    manifests: ['package.json', 'package-lock.json'],
    lockfiles: ['package-lock.json', 'npm-shrinkwrap.json'],
  },
  {
    name: 'yarn',
    // `yarn` alone installs; `yarn build` does not.
    detect: /\byarn(?:\s+install\b|\s*(?:$|&&|;|\|\|?|\)))/,
    manifests: ['package.json', 'yarn.lock'],
    lockfiles: ['yarn.lock'],
  },
  {
    name: 'pnpm',
    detect: /\bpnpm\s+(install|i)\b/,
    manifests: ['package.json', 'pnpm-lock.yaml'],
    lockfiles: ['pnpm-lock.yaml'],
  },
  {
    name: 'pip',
    detect: /\bpip3?\s+install\b/,
    manifests: ['requirements.txt'],
    lockfiles: ['requirements.txt'],
  },
  {
    name: 'poetry',
    detect: /\bpoetry\s+install\b/,
    manifests: ['pyproject.toml', 'poetry.lock'],
    lockfiles: ['poetry.lock'],
  },
  {
    name: 'go',
    detect: /\bgo\s+mod\s+download\b/,
    manifests: ['go.mod', 'go.sum'],
    lockfiles: ['go.sum'],
  },
  {
    name: 'bundler',
    detect: /\bbundle\s+install\b/,
    manifests: ['Gemfile', 'Gemfile.lock'],
    lockfiles: ['Gemfile.lock'],
  },
  {
    name: 'composer',
    detect: /\bcomposer\s+install\b/,
    manifests: ['composer.json', 'composer.lock'],
    lockfiles: ['composer.lock'],
  },
  {
    name: 'cargo',
    detect: /\bcargo\s+(fetch|build)\b/,
    manifests: ['Cargo.toml', 'Cargo.lock'],
    lockfiles: ['Cargo.lock'],
  },
];

/** The install a RUN command runs (its first one, when it chains several), if any. */
export function installIn(command: string): InstallTool | undefined {
  let best: { tool: InstallTool; at: number } | undefined;
  for (const tool of INSTALL_TOOLS) {
    const m = tool.detect.exec(command);
    if (m && (!best || m.index < best.at)) best = { tool, at: m.index };
  }
  return best?.tool;
}
