/**
 * `depot check` and `depot build --check`: the advisor's findings for a Dockerfile and its context,
 * without building (and without contacting any builder). Exit 1 when a finding reaches --fail-on.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  advise,
  BUILD_OUTPUTS,
  type CheckJson,
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
  const summary = summarize(findings, failOn);
  if (opts.json) {
    const doc: CheckJson = {
      findings,
      summary: { ...summary, dockerfile: name, context: contextDir, target: opts.target ?? null },
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(formatFindings(findings, summary, name));
  process.exitCode = summary.failed ? 1 : 0;
}
