/** What the Dockerfile advisor reports: findings, each with the step it is about and its fix. */

export type Severity = 'error' | 'warning' | 'info';

/** Most severe first: the order findings are sorted by within a line, and `--fail-on` compares in. */
export const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];

/** The stable rule ids (docs/smart-cache.md, "Advisor"). */
export type RuleId =
  | 'copy-before-install'
  | 'apt-get-update'
  | 'add-url-checksum'
  | 'arg-placement'
  | 'install-lockfile'
  | 'dockerignore'
  | 'unpinned-base-image';

/**
 * One finding. `instruction` and `affects` name steps the way the builder's history names them
 * (the vertex name without its `[stage n/m]` prefix, whitespace collapsed, e.g. `RUN npm ci`,
 * `FROM docker.io/library/node:20`), so what history knows about a step (how often it missed,
 * how long it ran) can be attached to the finding.
 */
export interface Finding {
  rule: RuleId;
  severity: Severity;
  /** 1-based line of the instruction in the Dockerfile; 0 for a finding about the context itself. */
  line: number;
  /** The instruction at `line` (`COPY . .`, `ARG VERSION`); '' when `line` is 0. */
  instruction: string;
  /** One line: what is wrong and what it costs. */
  message: string;
  /** One line: what to change. */
  fix: string;
  /** Steps after it that a change it lets through reruns (the install after a broad COPY, the RUNs below an ARG). */
  affects?: string[];
  /** The stage's name (`build`) or index (`stage-1`) in a multi-stage Dockerfile; absent with one stage. */
  stage?: string;
  /**
   * What it cost in the project's recent builds, from the builder's history (`depot check` with a
   * builder configured), e.g. `invalidated RUN npm ci in 38 of the last 50 builds: 31 min; …`.
   */
  cost?: string;
}

/** The counts and verdict `depot check` ends with. */
export interface CheckSummary {
  errors: number;
  warnings: number;
  infos: number;
  /** The threshold: a finding at or above it fails the check. */
  failOn: Severity | 'none';
  failed: boolean;
}

/** True when a finding of `severity` fails a check with threshold `failOn`. */
export function failsAt(severity: Severity, failOn: Severity | 'none'): boolean {
  return failOn !== 'none' && SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(failOn);
}

/** Counts of `findings` and whether they fail at `failOn`. */
export function summarize(findings: readonly Finding[], failOn: Severity | 'none'): CheckSummary {
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return {
    errors: count('error'),
    warnings: count('warning'),
    infos: count('info'),
    failOn,
    failed: findings.some((f) => failsAt(f.severity, failOn)),
  };
}
