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
    }) => {
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
  .description('create a token for a project and print it once')
  .requiredOption('--project <name>', 'project the token may build')
  .requiredOption('--user <name>', 'who the token is for')
  .option('--data <dir>', 'data directory of the builder (a token of this builder only)')
  .option('--team-secret <spec>', 'sign a fleet-wide token with the team secret (file:PATH or ssm:/NAME)')
  .action(async (o: { project: string; user: string; data?: string; teamSecret?: string }) => {
    if (!!o.data === !!o.teamSecret) fail('pass either --data (one builder) or --team-secret (the fleet)');
    if (o.teamSecret) {
      const { token: t, record } = issueTeamToken(await loadTeamSecret(o.teamSecret), o.project, o.user);
      process.stdout.write(`${t}\n`);
      process.stderr.write(
        `token id ${record.id} (revoke with: depot-builder token revoke --fleet SPEC ${record.id})\n`,
      );
      return;
    }
    const { token: t } = await createTokenStore(o.data!).create(o.project, o.user);
    process.stdout.write(`${t}\n`);
  });
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
