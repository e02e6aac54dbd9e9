#!/usr/bin/env node
import { Command, Option } from 'commander';
import { DepotError } from '../session/index.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The one place that prints errors and picks exit codes. */
function reportError(err: unknown): number {
  if (err instanceof DepotError) {
    if (err.code === 'cancelled') {
      process.stderr.write('depot: cancelled\n');
      return 130;
    }
    process.stderr.write(`depot: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
    return 1;
  }
  const code = (err as { code?: string })?.code;
  if (code === 'context_not_found' || code === 'context_not_dir' || code === 'context_unreadable') {
    process.stderr.write(`depot: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`depot: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
}

// Node's deprecation notices (e.g. TLS server names given as IP addresses) are not the user's concern.
process.noDeprecation = true;

const program = new Command('depot')
  .version('0.1.0')
  .description('Build Docker images on shared builders with a warm cache')
  .showHelpAfterError();

/** The flags `depot build` shares with `docker build` (and `depot dev` with `depot build`). */
function withBuildFlags(cmd: Command): Command {
  return cmd
    .option('-t, --tag <name>', 'name and optionally a tag (repeatable)', collect, [])
    .option('-f, --file <path>', 'Dockerfile (default: PATH/Dockerfile; - for stdin)')
    .option(
      '--build-arg <k=v>',
      'build-time variable; K alone takes it from the environment (repeatable)',
      collect,
      [],
    )
    .option('--target <stage>', 'build stage to stop at')
    .option(
      '--platform <os/arch>',
      'target platform (build: several, comma-separated, e.g. linux/amd64,linux/arm64)',
    )
    .option('--no-cache', 'do not use the cache')
    .option('--pull', 'always look for newer base images', false)
    .option('--label <k=v>', 'image label (repeatable)', collect, [])
    .addOption(
      new Option('--progress <mode>', 'progress output')
        .choices(['auto', 'tty', 'plain', 'json', 'quiet'])
        .default('auto'),
    )
    .addOption(
      new Option('--builder <url>', 'builder address (tcp://, tls://, unix://)').env('DEPOT_BUILDER'),
    )
    .addOption(new Option('--token <token>', 'builder token').env('DEPOT_TOKEN'))
    .addOption(new Option('--project <name>', 'project to build for').env('DEPOT_PROJECT'));
}

withBuildFlags(
  program
    .command('build')
    .description('build an image from a Dockerfile (a drop-in for `docker build`)')
    .argument('[path]', 'build context directory, or - to read a Dockerfile or context tar from stdin', '.'),
)
  .option('--load', "load the image into the local Docker engine (several platforms: this machine's)", false)
  .option('--push', 'push the tags to their registries (several platforms: one image index per tag)', false)
  .option('-q, --quiet', 'print only the image id', false)
  .option('--metadata-file <file>', 'write build metadata (JSON) to a file')
  .action(async (path: string, o) => {
    const ac = new AbortController();
    const onSignal = () => ac.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const { runBuild } = await import('./build.js');
    await runBuild({ ...o, context: path }, ac.signal);
  });

withBuildFlags(
  program
    .command('dev')
    .description('watch the context, rebuild on every change and load the image into local Docker')
    .argument('[path]', 'build context directory', '.'),
)
  .option('--run <args>', 'run the image after each good build with these `docker run` arguments')
  .option('--quiet-ms <ms>', 'quiet period after the last change before a rebuild', '200')
  .addOption(
    new Option('--on-change <policy>', 'a change during a build: cancel it, or queue one more build')
      .choices(['cancel', 'queue'])
      .default('cancel'),
  )
  .action(async (path: string, o) => {
    const { runDev } = await import('./dev.js');
    await runDev({ ...o, context: path, load: true, quiet: false });
  });

program
  .command('login')
  .description('store a token for a builder and make it the default')
  .requiredOption('--builder <url>', 'builder address')
  .option('--token <token>', 'token (default: DEPOT_TOKEN, else prompt or stdin)')
  .option('--project <name>', 'default project')
  .action(async (o) => (await import('./login.js')).runLogin(o));

const context = program.command('context').description('inspect build contexts');
context
  .command('ls')
  .description('list exactly what a build would send')
  .argument('[path]', 'context directory', '.')
  .option('-f, --file <path>', 'Dockerfile (its .dockerignore beside it takes precedence)')
  .option('--json', 'print JSON', false)
  .action(async (path: string, o) => (await import('./context-ls.js')).runContextLs(path, o));

program.parseAsync(process.argv).then(
  () => process.exit(process.exitCode ?? 0),
  (err) => process.exit(reportError(err)),
);
