// The depot command line: every command, its flags, and the one place that reports errors.
import { Command, Option } from 'commander';
import { DepotError } from '../errors/index.js';
import { dockerBooleanArgs, withEngineFlags } from './engine-flags.js';
import { exitWhenFlushed, ignoreClosedOutput, interruptSignal } from './process-exit.js';
import { isHelpOrVersion, throwUsageErrors } from './usage.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The one place that prints errors and picks exit codes. */
async function reportError(e: unknown): Promise<number> {
  // Help and --version were printed already; commander only says how to end.
  if (isHelpOrVersion(e)) return e.exitCode;
  // Fleet and platform errors carry a code and a hint too; the arch module maps them. The local
  // engine's errors (unreachable, a bad DOCKER_HOST, a refused load) are the user's to act on.
  const name = (e as { name?: string })?.name ?? '';
  const err = /^(FleetError|PlatformError)$/.test(name)
    ? (await import('../arch/index.js')).asDepotError(e)
    : name === 'LocalEngineError'
      ? (await import('./local-engine-check.js')).asUserError(e)
      : e;
  if (err instanceof DepotError) {
    if (err.code === 'cancelled') {
      process.stderr.write('depot: cancelled\n');
      return 130;
    }
    process.stderr.write(`depot: ${err.message}${err.hint ? ` (${err.hint})` : ''}\n`);
    return 1;
  }
  if ((err as Error)?.name === 'ContextError') {
    process.stderr.write(`depot: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`depot: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 2;
}

function createProgram(): Command {
  const program = new Command('depot')
    .version('0.1.0')
    .description('Build Docker images on shared builders with a warm cache')
    .option('--insecure', 'allow sending the token in plaintext (tcp://) to a non-loopback builder')
    // The session reads its transport settings from the environment (one place for every command).
    .hook('preAction', (cmd) => {
      if (cmd.opts().insecure) process.env.DEPOT_INSECURE = '1';
    });

  /** The flags `depot build` shares with `docker build` (and `depot dev` with `depot build`). */
  function withBuildFlags(cmd: Command): Command {
    return withEngineFlags(cmd)
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
      .option(
        '--secret <spec>',
        'build secret: id=ID[,src=PATH|env=VAR][,type=file|env] (repeatable; at most 500 KiB each)',
        collect,
        [],
      )
      .option(
        '--ssh <spec>',
        'forward an ssh-agent: default or ID[=SOCKET] (default socket: $SSH_AUTH_SOCK; repeatable)',
        collect,
        [],
      )
      .addOption(
        new Option('--progress <mode>', 'progress output')
          .choices(['auto', 'tty', 'plain', 'json', 'quiet'])
          .default('auto'),
      )
      .addOption(
        new Option('--builder <url>', 'builder address (tcp://, tls://, unix://)').env('DEPOT_BUILDER'),
      )
      .addOption(new Option('--token <token>', 'builder token').env('DEPOT_TOKEN'))
      .addOption(new Option('--project <name>', 'project to build for').env('DEPOT_PROJECT'))
      .addOption(new Option('--fleet <spec>', 'builder fleet: file:PATH or ssm:/PREFIX').env('DEPOT_FLEET'))
      .addOption(
        new Option('--build-platform <os/arch>', 'build every platform on builders of this platform').env(
          'DEPOT_BUILD_PLATFORM',
        ),
      )
      .option('--allow-emulation', 'accept a builder that emulates the target platform', false);
  }

  withBuildFlags(
    program
      .command('build')
      .description('build an image from a Dockerfile (a drop-in for `docker build`)')
      .argument(
        '[path]',
        'build context directory, or - to read a Dockerfile or context tar from stdin',
        '.',
      ),
  )
    .option(
      '--load',
      "load the image into the local Docker engine (several platforms: this machine's)",
      false,
    )
    .option('--push', 'push the tags to their registries (several platforms: one image index per tag)', false)
    .option(
      '-o, --output <spec>',
      'output: type=local,dest=DIR | type=tar,dest=FILE|- | DIR | - | type=docker (--load) | type=registry (--push) | type=image',
      collect,
      [],
    )
    .option('-q, --quiet', 'print only the image id', false)
    .option('--metadata-file <file>', 'write build metadata (JSON) to a file')
    .option('--no-agent', 'scan and sync in this process, without the local agent (also DEPOT_NO_AGENT=1)')
    .option(
      '--smart-cache',
      'install dependencies before copying the rest of the context where that is sound (--smart-cache=plan: print the plan, build nothing)',
    )
    // `--smart-cache=MODE` arrives here (see runCli): a bare --smart-cache must not take the next word.
    .addOption(new Option('--smart-cache-mode <mode>').hideHelp())
    .option('--check', 'run the Dockerfile checks (as depot check) and build nothing', false)
    .action(async (path: string, o) => {
      if (o.check)
        return (await import('./check.js')).runCheck(path, {
          file: o.file,
          target: o.target,
          json: o.progress === 'json',
          history: false,
        });
      const signal = interruptSignal();
      const { runBuild } = await import('./build.js');
      type BuildOptions = Parameters<typeof runBuild>[0];
      const smartCache = o.smartCacheMode ?? (o.smartCache ? 'on' : 'off');
      if (!['on', 'off', 'plan', 'verify'].includes(smartCache))
        throw new DepotError(
          'invalid_flag',
          `invalid --smart-cache=${smartCache}`,
          'use --smart-cache, --smart-cache=plan, --smart-cache=verify or --smart-cache=off',
        );
      const { applyOutputFlag } = await import('./output-flag.js');
      await runBuild(applyOutputFlag({ ...o, smartCache, context: path }) as BuildOptions, signal);
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
    .option('--no-agent', 'watch and sync in this process, without the local agent (also DEPOT_NO_AGENT=1)')
    .option(
      '--sync <src:dest|auto>',
      'live-update the --run container: files under SRC go to DEST in it on save (repeatable; auto: from the Dockerfile)',
      collect,
      [],
    )
    .option('--sync-exec <command>', 'run this in the container (sh -c) after each live update')
    .option('--sync-restart', 'restart the container after each live update')
    .option('--rebuild-on <pattern>', 'a change to these paths always rebuilds (repeatable)', collect, [])
    .option(
      '--no-smart-cache',
      'build the Dockerfile as written (by default the smart cache installs dependencies before the rest of the context, where that is sound)',
    )
    .action(async (path: string, o) => {
      const { runDev } = await import('./dev.js');
      await runDev({
        ...o,
        context: path,
        load: true,
        quiet: false,
        smartCache: o.smartCache === false ? 'off' : 'on',
      });
    });

  program
    .command('login')
    .description('store a token for a builder and make it the default')
    .option('--builder <url>', 'builder address')
    .option('--fleet <spec>', 'a fleet (file:PATH or ssm:/PREFIX): one team token for all its builders')
    .option('--token <token>', 'token (default: DEPOT_TOKEN, else prompt or stdin)')
    .option('--project <name>', 'default project')
    .action(async (o) => (await import('./login.js')).runLogin(o));

  program
    .command('logout')
    .description('remove the stored token of a builder, a fleet, or else the default one')
    .option('--builder <url>', 'builder address')
    .option('--fleet <spec>', 'a fleet (file:PATH or ssm:/PREFIX)')
    .action(async (o) => (await import('./login.js')).runLogout(o));

  const builders = program.command('builders').description('the builders of the fleet');
  builders
    .command('ls')
    .description('list builders: platforms, endpoint, health, latency, version, heartbeat age')
    .option('--json', 'print JSON', false)
    .addOption(new Option('--fleet <spec>', 'fleet: file:PATH or ssm:/PREFIX').env('DEPOT_FLEET'))
    .addOption(
      new Option('--builder <url>', 'also this builder (default: the one of depot login)').env(
        'DEPOT_BUILDER',
      ),
    )
    .addOption(new Option('--token <token>', 'token for the health check').env('DEPOT_TOKEN'))
    .action(async (o) => (await import('./builders.js')).runBuildersLs(o));

  program
    .command('config')
    .description('settings: depot config list, depot config set|get|unset builder|project|fleet [VALUE]')
    .argument('<action>', 'list, set, get or unset')
    .argument('[key]', 'builder, project or fleet')
    .argument('[value]', 'the value, with set')
    .action(async (action: string, key: string | undefined, value?: string) =>
      (await import('./builders.js')).runConfig(action, key, value),
    );

  /** The flags that pick a shared builder, as `depot build` reads them. */
  function withBuilderFlags(cmd: Command): Command {
    return cmd
      .addOption(
        new Option('--builder <url>', 'builder address (tcp://, tls://, unix://)').env('DEPOT_BUILDER'),
      )
      .addOption(new Option('--token <token>', 'builder token').env('DEPOT_TOKEN'))
      .addOption(
        new Option('--project <name>', 'project (a project token sees only its own)').env('DEPOT_PROJECT'),
      )
      .addOption(
        new Option(
          '--fleet <spec>',
          "the team's numbers from every live builder of a fleet: file:PATH or ssm:/PREFIX",
        ).env('DEPOT_FLEET'),
      );
  }

  const windowOption = () =>
    new Option('--window <window>', 'time window').choices(['1h', '24h', '7d']).default('24h');

  withBuilderFlags(
    program
      .command('dashboard')
      .description("the team's cache: hit ratio, time saved, builds live, top cache busters")
      .addOption(windowOption()),
  ).action(async (o) => (await import('./dashboard.js')).runDashboard(o));

  withBuilderFlags(
    program
      .command('stats')
      .description('cache statistics of a window, grouped; --json for scripts')
      .addOption(windowOption())
      .addOption(
        new Option('--group-by <key>', 'group by')
          .choices(['project', 'user', 'platform'])
          .default('project'),
      )
      .option('--json', 'print the Stats answer as JSON', false),
  ).action(async (o) => (await import('./stats.js')).runStats(o));

  const history = program
    .command('history')
    .description(
      "the project's recorded builds, and any of them replayed: depot history [ls], depot history show ID",
    );
  withBuilderFlags(
    history
      .command('ls', { isDefault: true })
      .description(
        'the latest builds of the project: when, how long, platform, target, result, cache hits, time saved, builder',
      )
      .option('-n, --limit <n>', 'how many builds (1-500)', '20')
      .addOption(
        new Option('--result <result>', 'only builds with this result').choices([
          'running',
          'ok',
          'failed',
          'cancelled',
        ]),
      )
      .option('--platform <os/arch>', 'only builds of this platform')
      .option('--json', 'print JSON', false),
  ).action(async (o) => (await import('./history.js')).runHistoryLs(o));
  withBuilderFlags(
    history
      .command('show')
      .description(
        'replay a recorded build: its graph, waterfall and summary (keys to explore it in a terminal)',
      )
      .argument('<id>', 'the build id, or its start when no other build id of the project shares it')
      .addOption(
        new Option('--progress <mode>', 'tty: the live view; plain: the plain progress; json: the events')
          .choices(['auto', 'tty', 'plain', 'json'])
          .default('auto'),
      ),
  ).action(async (id: string, o) => (await import('./history.js')).runHistoryShow(id, o, interruptSignal()));

  program
    .command('check')
    .description('check a Dockerfile for what busts its cache, with a fix for each finding (builds nothing)')
    .argument('[path]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile (default: PATH/Dockerfile)')
    .option('--target <stage>', 'the stage a build would stop at')
    .option('--json', 'print one JSON document', false)
    .option('--no-history', "static findings only: do not read the costs from the builder's history")
    .option('--last <n>', 'how many recent builds of this Dockerfile the costs read (1-500)', '50')
    .option('--builder <url>', 'builder whose history prices the findings (default: as depot build)')
    .option('--token <token>', 'builder token')
    .option('--project <name>', 'project whose builds are read')
    .option(
      '--fail-on <severity>',
      'exit 1 when a finding is at least this severe: error, warning, info or none',
      'warning',
    )
    .action(async (path: string, o) => (await import('./check.js')).runCheck(path, o));

  program
    .command('bake')
    .description('build the targets of bake files (docker-bake.hcl, docker-bake.json, compose.yaml)')
    .argument('[targets...]', 'targets or groups to build (default: the "default" group)')
    .option('-f, --file <file>', 'bake file (repeatable; later files override earlier ones)', collect, [])
    .option(
      '--set <target.key=value>',
      'override a target attribute, e.g. app.tags=app:dev or *.platform=linux/arm64 (repeatable)',
      collect,
      [],
    )
    .option(
      '--print',
      'print the resolved definition as JSON (as docker buildx bake --print) and build nothing',
      false,
    )
    .option('--load', "load every target's image into the local Docker engine", false)
    .option('--push', "push every target's tags", false)
    .option('--no-cache', 'do not use the cache')
    .option('--pull', 'always look for newer base images', false)
    .addOption(
      new Option('--progress <mode>', 'progress output ([target] prefix in plain, a target field in json)')
        .choices(['auto', 'tty', 'plain', 'json', 'quiet'])
        .default('auto'),
    )
    .option('--metadata-file <file>', 'write build metadata (JSON, one entry per target) to a file')
    .addOption(new Option('--builder <url>', 'builder address').env('DEPOT_BUILDER'))
    .addOption(new Option('--token <token>', 'builder token').env('DEPOT_TOKEN'))
    .addOption(new Option('--project <name>', 'project to build for').env('DEPOT_PROJECT'))
    .addOption(new Option('--fleet <spec>', 'builder fleet: file:PATH or ssm:/PREFIX').env('DEPOT_FLEET'))
    .action(async (targets: string[], o) =>
      (await import('./bake.js')).runBake(targets, o, interruptSignal()),
    );

  const context = program.command('context').description('inspect build contexts');
  context
    .command('ls')
    .description('list exactly what a build would send')
    .argument('[path]', 'context directory', '.')
    .option('-f, --file <path>', 'Dockerfile (its .dockerignore beside it takes precedence)')
    .option('--json', 'print JSON', false)
    .option('--id', 'print only the snapshot id a build of the whole context syncs', false)
    .action(async (path: string, o) => (await import('./context-ls.js')).runContextLs(path, o));

  const agent = program
    .command('agent')
    .description('the local agent: keeps contexts watched and builders warm between builds');
  agent
    .command('status')
    .description('whether the agent runs, and what it keeps')
    .option('--json', 'print JSON', false)
    .action(async (o) => (await import('./agent.js')).runAgentStatus(o));
  agent
    .command('stop')
    .description('stop the agent (the next build starts it again)')
    .action(async () => (await import('./agent.js')).runAgentStop());
  agent
    .command('logs')
    .description("print the agent's log")
    .action(async () => (await import('./agent.js')).runAgentLogs());
  agent
    .command('run')
    .description('run the agent in the foreground (depot build starts it in the background)')
    .action(async () => (await import('./agent.js')).runAgentCommand());

  agent
    .command('worker', { hidden: true })
    .description('a warm process that runs one build the agent hands it')
    .action(async () => (await import('../agent/worker.js')).runWorker());

  throwUsageErrors(program);
  return program;
}

/** Runs `depot` with `argv` (node, script, arguments…) and ends the process when it is done. */
export function runCli(argv: string[]): void {
  // Output to a reader that stops early (`| head`) is not the command's failure.
  ignoreClosedOutput();
  // Node's deprecation notices (e.g. TLS server names given as IP addresses) are not the user's concern.
  process.noDeprecation = true;
  Promise.resolve()
    .then(() =>
      createProgram().parseAsync(
        argv.flatMap((a) =>
          a.startsWith('--smart-cache=') ? ['--smart-cache-mode', a.slice(14)] : dockerBooleanArgs(a),
        ),
      ),
    )
    .then(
      () => exitWhenFlushed(Number(process.exitCode ?? 0)),
      async (err) => exitWhenFlushed(await reportError(err)),
    );
}
