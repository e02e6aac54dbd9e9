import type { Command, CommanderError } from 'commander';
import { DepotError } from '../errors/index.js';

/**
 * `docker build` flags depot does not implement yet. `depot build` and `depot dev` are drop-ins
 * for `docker build`, so these are named as not supported yet rather than unknown.
 */
export const UNSUPPORTED_DOCKER_BUILD_FLAGS: ReadonlySet<string> = new Set([
  // Neither command takes these (buildx's print and stream).
  '--print',
  '--stream',
  // `depot build` takes these; `depot dev` does not.
  '--check',
  '--output',
  '-o',
]);

/** Commands that take `docker build`'s flags. */
const DOCKER_BUILD_LIKE = new Set(['depot build', 'depot dev']);

/** "depot context ls" for the `ls` subcommand of `context`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The flag as typed, without an attached value: `--network=host` → `--network`, `-ofile` → `-o`. */
function flagName(arg: string): string {
  if (arg.startsWith('--')) return arg.split('=')[0]!;
  return arg.slice(0, 2);
}

/**
 * A commander usage error as one line (`depot: unknown flag --foo for depot build; see depot build
 * --help`); help and version requests are returned as they are (already printed, exit 0).
 */
export function toUsageError(err: CommanderError, cmd: Command): Error {
  const path = commandPath(cmd);
  const text = err.message.replace(/^error: /, '');
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.help':
    case 'commander.version':
      return err;
    case 'commander.unknownOption': {
      const flag = flagName(/'([^']*)'/.exec(text)?.[1] ?? '');
      if (DOCKER_BUILD_LIKE.has(path) && UNSUPPORTED_DOCKER_BUILD_FLAGS.has(flag))
        return new DepotError('unsupported_flag', `${flag} is not supported yet by ${path}`, undefined, {
          cause: err,
        });
      return new DepotError(
        'unknown_flag',
        `unknown flag ${flag} for ${path}; see ${path} --help`,
        undefined,
        {
          cause: err,
        },
      );
    }
    case 'commander.unknownCommand': {
      const name = /'([^']*)'/.exec(text)?.[1] ?? '';
      return new DepotError('unknown_command', `unknown command ${name}; see ${path} --help`, undefined, {
        cause: err,
      });
    }
    default:
      return new DepotError('invalid_usage', `${text.replace(/\.$/, '')}; see ${path} --help`, undefined, {
        cause: err,
      });
  }
}

/**
 * Makes every command (those added later included, as long as this runs after them) throw its
 * usage errors to the caller of parseAsync, printing nothing itself: the CLI's error handler
 * prints them as one line, like every other error.
 */
export function throwUsageErrors(root: Command): void {
  const visit = (cmd: Command) => {
    cmd.configureOutput({ outputError: () => {} });
    cmd.exitOverride((err) => {
      throw toUsageError(err, cmd);
    });
    for (const sub of cmd.commands) visit(sub);
  };
  visit(root);
}

/** Whether an error is commander's way of ending after printing help or the version. */
export function isHelpOrVersion(err: unknown): err is CommanderError {
  const code = (err as { code?: unknown; name?: unknown })?.code;
  return (
    (err as { name?: unknown })?.name === 'CommanderError' &&
    (code === 'commander.helpDisplayed' || code === 'commander.help' || code === 'commander.version')
  );
}
