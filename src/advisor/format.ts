/** The advisor's findings as `depot check` prints them: lines for people, one JSON document for scripts. */
import type { CheckSummary, Finding } from './types.js';

/** `Dockerfile:4: warning: …` and an indented `fix: …` per finding, then one summary line. */
export function formatFindings(
  findings: readonly Finding[],
  summary: CheckSummary,
  dockerfileName: string,
): string {
  let out = '';
  for (const f of findings) {
    const where = f.line > 0 ? `${dockerfileName}:${f.line}` : dockerfileName;
    out += `${where}: ${f.severity}: ${f.message}\n  fix: ${f.fix}\n`;
    if (f.cost) out += `  cost: ${f.cost}\n`;
  }
  return `${out}${summaryLine(summary)}\n`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `2 warnings, 1 info: fails at --fail-on=warning` / `no findings`. */
export function summaryLine(s: CheckSummary): string {
  if (s.errors + s.warnings + s.infos === 0) return 'no findings';
  const counts = `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${s.infos} info`;
  return s.failOn === 'none'
    ? counts
    : `${counts}: ${s.failed ? 'fails' : 'passes'} at --fail-on=${s.failOn}`;
}

/** The `--json` document (docs/cli.md). */
export interface CheckJson {
  findings: Finding[];
  summary: CheckSummary & { dockerfile: string; context: string; target: string | null };
  /** Where the costs came from: the builds read, or why there are none. */
  history: { builds: number; last: number } | { unavailable: string } | null;
}
