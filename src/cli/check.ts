/**
 * `depot check` and `depot build --check`: the advisor's findings for a Dockerfile and its context,
 * without building (and without contacting any builder). Exit 1 when a finding reaches --fail-on.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import {
  advise,
  BUILD_OUTPUTS,
  type CheckJson,
  type Finding,
  formatFindings,
  NEVER_SENT,
  type Severity,
  sentDirs,
  summarize,
  UnknownTargetError,
} from '../advisor/index.js';
import { errnoCode } from '../context-sync/errors.js';
import { DepotError } from '../errors/index.js';
import { contextFiles } from '../smart-cache/context-files.js';

export interface CheckOptions {
  file?: string;
  target?: string;
  json?: boolean;
  failOn?: string;
  /** false (`--no-history`, or `depot build --check`): static findings only, no builder contacted. */
  history?: boolean;
  /** How many recent builds the costs read (`--last`, default 50). */
  last?: string;
  builder?: string;
  token?: string;
  project?: string;
  fleet?: string;
}

const FAIL_ON = ['error', 'warning', 'info', 'none'];

/** Runs the checks on `contextArg`; prints the findings on stdout and sets the exit code. */
export async function runCheck(contextArg: string, opts: CheckOptions): Promise<void> {
  const failOn = (opts.failOn ?? 'warning') as Severity | 'none';
  if (!FAIL_ON.includes(failOn))
    throw new DepotError(
      'invalid_flag',
      `invalid --fail-on=${opts.failOn}`,
      'use --fail-on=error, warning, info or none',
    );
  if (contextArg === '-' || opts.file === '-')
    throw new DepotError(
      'invalid_flag',
      'the checks read the context from disk: stdin (-) is not supported',
      'pass a context directory and -f PATH',
    );
  const abs = resolve(contextArg);
  if (!existsSync(abs)) throw new DepotError('context_not_found', `build context not found: ${contextArg}`);
  if (!statSync(abs).isDirectory())
    throw new DepotError('context_not_dir', `build context is not a directory: ${contextArg}`);
  const contextDir = realpathSync(abs);
  // Like docker: -f is relative to the working directory, the default is the context's Dockerfile.
  const dockerfileAbs = opts.file ? resolve(opts.file) : join(contextDir, 'Dockerfile');
  const name = relative(process.cwd(), dockerfileAbs) || dockerfileAbs;
  let dockerfile: string;
  try {
    dockerfile = await readFile(dockerfileAbs, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    throw code === 'ENOENT'
      ? new DepotError(
          'dockerfile_not_found',
          `no Dockerfile at ${name}`,
          opts.file ? 'check the -f path' : 'create a Dockerfile in the context or pass -f PATH',
        )
      : new DepotError('dockerfile_unreadable', `cannot read Dockerfile ${name}: ${code ?? String(err)}`);
  }
  const [files, sent] = await Promise.all([
    contextFiles(contextDir, dockerfileAbs),
    sentDirs(contextDir, dockerfileAbs, [...NEVER_SENT, ...BUILD_OUTPUTS]),
  ]);
  let findings: Awaited<ReturnType<typeof advise>>;
  try {
    findings = await advise({
      dockerfile,
      files,
      target: opts.target,
      sent: sent.dirs,
      hasIgnoreFile: sent.ignoreFile !== undefined,
    });
  } catch (err) {
    if (err instanceof UnknownTargetError)
      throw new DepotError(err.code, err.message, '--target takes a stage name: FROM … AS NAME');
    throw err;
  }
  const history = opts.history
    ? await attachCosts(findings, opts, await dockerfilePathInContext(files, contextDir, dockerfileAbs))
    : null;
  const summary = summarize(findings, failOn);
  if (opts.json) {
    const doc: CheckJson = {
      findings,
      summary: { ...summary, dockerfile: name, context: contextDir, target: opts.target ?? null },
      history,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(formatFindings(findings, summary, name));
    if (history && 'unavailable' in history) process.stdout.write(`history: ${history.unavailable}\n`);
    else if (history)
      process.stdout.write(`costs from the last ${history.builds} builds of this Dockerfile\n`);
  }
  process.exitCode = summary.failed ? 1 : 0;
}

/** The Dockerfile's path as `depot build` names it to the builder: in the context and sent, else ''. */
async function dockerfilePathInContext(
  files: { has(path: string): boolean },
  contextDir: string,
  dockerfileAbs: string,
): Promise<string> {
  const rel = relative(contextDir, dockerfileAbs).split(sep).join('/');
  return rel && !rel.startsWith('..') && files.has(rel) ? rel : '';
}

/**
 * Puts a cost on each finding from the configured builder's history of this Dockerfile (its
 * StepCosts: the project's last builds of the same Dockerfile path and target). Only a builder
 * the user configured is asked (the embedded one is not started for a check); a builder that
 * cannot answer leaves the findings as they are, with the reason.
 */
async function attachCosts(
  findings: Finding[],
  opts: CheckOptions,
  dockerfilePath: string,
): Promise<CheckJson['history']> {
  const last = opts.last === undefined ? 50 : Number(opts.last);
  if (!Number.isInteger(last) || last < 1 || last > 500)
    throw new DepotError(
      'invalid_flag',
      `invalid --last=${opts.last}`,
      'use a whole number of builds from 1 to 500',
    );
  const { remoteBuilderConfigured, selectTargets } = await import('./targets.js');
  if (!(await remoteBuilderConfigured(opts))) return null;
  const { createBuilderSession } = await import('../session/index.js');
  const { readHistoryCost, costLine } = await import('../advisor/history-cost.js');
  let target: Awaited<ReturnType<typeof selectTargets>>[number] | undefined;
  let session: ReturnType<typeof createBuilderSession> | undefined;
  try {
    target = (await selectTargets(opts, []))[0]!;
    session = createBuilderSession({ url: target.url, token: target.token, project: target.project });
    const signal = AbortSignal.timeout(15_000);
    const history = await readHistoryCost(
      session,
      { dockerfilePath, target: opts.target ?? '', last },
      { signal },
    );
    if (!history.available) return { unavailable: history.reason };
    for (const f of findings) {
      const line = costLine(f, history);
      if (line) f.cost = line;
    }
    return { builds: history.costs.builds, last };
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message : String(err) };
  } finally {
    session?.close();
    await target?.close?.();
  }
}
