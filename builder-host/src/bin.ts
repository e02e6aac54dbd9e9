#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { loadTeamSecret, openFleet } from '../../src/protocol/fleet/index.js';
import { createTokenStore, issueTeamToken } from './auth/index.js';
import { BUILDER_VERSION, createLogger, startBuilderHost } from './host.js';

function fail(message: string): never {
  process.stderr.write(`depot-builder: ${message}\n`);
  process.exit(1);
}

/** "127.0.0.1:7000" | "unix:/path" | "unix:///path" → grpc-js address */
function listenAddress(s: string): string {
  if (s.startsWith('unix://')) return `unix:${s.slice(7)}`;
  if (s.startsWith('unix:')) return s;
  if (s.startsWith('tcp://')) return s.slice(6);
  if (/^[^/\s]+:\d+$/.test(s)) return s;
  fail(`invalid --listen ${JSON.stringify(s)}: use HOST:PORT or unix:PATH`);
}

function engineAddress(s: string): string {
  if (/^unix:\/\/\//.test(s) || /^tcp:\/\/[^/]+:\d+$/.test(s)) return s;
  fail(`invalid --engine ${JSON.stringify(s)}: use unix:///PATH or tcp://HOST:PORT`);
}

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

const program = new Command('depot-builder').version(BUILDER_VERSION).description('depot builder-host');

program
  .command('serve')
  .description('serve builds over gRPC against a Docker engine')
  .addOption(
    new Option('--engine <url>', 'Docker engine (unix:///PATH or tcp://HOST:PORT)')
      .env('DOCKER_HOST')
      .default('unix:///var/run/docker.sock'),
  )
  .requiredOption('--data <dir>', 'data directory (blobs, snapshots, tokens)')
  .requiredOption('--listen <addr>', 'HOST:PORT or unix:PATH')
  .option('--tls-cert <file>', 'TLS certificate (PEM)')
  .option('--tls-key <file>', 'TLS private key (PEM)')
  .option('--id <id>', 'builder id (default: generated once and kept in the data directory)')
  .option('--platform <p,…>', "platforms served natively (default: the engine's)")
  .option('--emulate <p,…>', 'platforms served through emulation (used only with --allow-emulation)')
  .addOption(new Option('--fleet <spec>', 'register in a fleet: file:PATH or ssm:/PREFIX').env('DEPOT_FLEET'))
  .option('--advertise <url>', 'address clients use to reach this builder (default: tcp://LISTEN)')
  .addOption(
    new Option('--team-secret <spec>', 'team secret for fleet-wide tokens: file:PATH or ssm:/NAME').env(
      'DEPOT_TEAM_SECRET',
    ),
  )
  .option('--fleet-ttl <ms>', 'heartbeat age after which clients ignore this builder', '60000')
  .option('--history-max-age <days>', 'forget builds older than this many days', '30')
  .option('--history-max-builds <n>', 'keep at most this many builds in the history', '200000')
  .addOption(
    new Option('--driver <driver>', 'how builds reach the engine: session (BuildKit session) or tar')
      .choices(['session', 'tar'])
      .default('session'),
  )
  .option('--no-result-reuse', 'always ask the engine, even for a build identical to an earlier one')
  .action(
    async (o: {
      engine: string;
      data: string;
      listen: string;
      tlsCert?: string;
      tlsKey?: string;
      id?: string;
      platform?: string;
      emulate?: string;
      fleet?: string;
      advertise?: string;
      teamSecret?: string;
      fleetTtl: string;
      historyMaxAge: string;
      historyMaxBuilds: string;
      driver: 'session' | 'tar';
      resultReuse: boolean;
    }) => {
      const maxAgeDays = Number(o.historyMaxAge);
      const maxBuilds = Number(o.historyMaxBuilds);
      if (!(maxAgeDays > 0))
        fail(`invalid --history-max-age ${JSON.stringify(o.historyMaxAge)}: use a number of days`);
      if (!Number.isInteger(maxBuilds) || maxBuilds < 1)
        fail(`invalid --history-max-builds ${JSON.stringify(o.historyMaxBuilds)}: use a positive integer`);
      if (!!o.tlsCert !== !!o.tlsKey) fail('--tls-cert and --tls-key go together');
      const tls =
        o.tlsCert && o.tlsKey ? { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } : undefined;
      const logger = createLogger();
      try {
        const host = await startBuilderHost({
          engine: engineAddress(o.engine),
          dataDir: o.data,
          listen: listenAddress(o.listen),
          tls,
          logger,
          id: o.id,
          platforms: list(o.platform),
          emulated: list(o.emulate),
          fleet: o.fleet
            ? { spec: o.fleet, endpoint: o.advertise ?? '', ttlMs: Number(o.fleetTtl) }
            : undefined,
          teamSecret: o.teamSecret,
          history: { maxAgeDays, maxBuilds },
          driver: o.driver,
          resultReuse: o.resultReuse,
        });
        process.stdout.write(`depot-builder ${host.id} listening on ${host.address}\n`);
        const stop = () => {
          logger.info('shutting down');
          host.close().then(() => process.exit(0));
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      } catch (err) {
        fail(`cannot start: ${(err as Error).message}`);
      }
    },
  );

const token = program.command('token').description('manage project tokens');
token
  .command('create')
  .description('create a token for a project (or an admin token) and print it once')
  .option('--project <name>', 'project the token may build and whose stats it may read')
  .option('--admin', 'a token for every project, whose stats cover the whole builder')
  .requiredOption('--user <name>', 'who the token is for')
  .option('--data <dir>', 'data directory of the builder (a token of this builder only)')
  .option('--team-secret <spec>', 'sign a fleet-wide token with the team secret (file:PATH or ssm:/NAME)')
  .action(
    async (o: { project?: string; admin?: boolean; user: string; data?: string; teamSecret?: string }) => {
      if (!!o.data === !!o.teamSecret) fail('pass either --data (one builder) or --team-secret (the fleet)');
      if (!!o.project === !!o.admin) fail('pass either --project NAME or --admin');
      // "*" is how an admin token is stored: as a project name it would silently make one.
      if (o.project !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(o.project))
        fail(
          `invalid project ${JSON.stringify(o.project)}: use letters, digits, ".", "_" and "-" (up to 128); for a token of every project pass --admin`,
        );
      // Project "*" is what makes a token an admin token (see server ADMIN_PROJECT).
      const project = o.admin ? '*' : o.project!;
      if (o.teamSecret) {
        const { token: t, record } = issueTeamToken(await loadTeamSecret(o.teamSecret), project, o.user);
        process.stdout.write(`${t}\n`);
        process.stderr.write(
          `token id ${record.id} (revoke with: depot-builder token revoke --fleet SPEC ${record.id})\n`,
        );
        return;
      }
      const { token: t } = await createTokenStore(o.data!).create(project, o.user);
      process.stdout.write(`${t}\n`);
    },
  );
token
  .command('ls')
  .description('list tokens (never their secrets)')
  .requiredOption('--data <dir>', 'data directory of the builder')
  .action(async (o: { data: string }) => {
    for (const r of await createTokenStore(o.data).list())
      process.stdout.write(
        `${r.id}\t${r.project}\t${r.user}\t${r.createdAt}${r.revoked ? '\trevoked' : ''}\n`,
      );
  });
token
  .command('revoke <id>')
  .description('revoke a token (of this builder with --data, fleet-wide with --fleet)')
  .option('--data <dir>', 'data directory of the builder')
  .option('--fleet <spec>', 'fleet whose builders refuse the team token from now on')
  .action(async (id: string, o: { data?: string; fleet?: string }) => {
    if (o.fleet) {
      await openFleet(o.fleet).revokeToken(id);
      return;
    }
    if (!o.data) fail('pass --data DIR or --fleet SPEC');
    if (!(await createTokenStore(o.data).revoke(id))) fail(`no token with id ${id}`);
  });

program.parseAsync(process.argv).catch((err) => fail((err as Error).message));
