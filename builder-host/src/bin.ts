#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { DEFAULT_ENGINE_HOST, EngineApiError, parseEngineHost } from '../../src/engine-api/index.js';
import { isLocalAddress } from '../../src/protocol/loopback.js';
import type { GcPolicy } from './gc/index.js';
import type { Limits } from './server/index.js';
import { PROJECT_NAME } from './server/project-name.js';
import type { Store } from './store/index.js';
import { parseDuration, parseSize } from './units.js';
import { BUILDER_VERSION } from './version.js';

// Each command loads what it uses when it runs (`import()`): `--version` or `token create` does
// not pay for the server, the store, the history and the fleet.

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

/** An --engine value the engine driver will accept, checked by the one engine address parser. */
function engineAddress(s: string): string {
  try {
    parseEngineHost(s, EngineApiError, '--engine');
    return s;
  } catch (err) {
    fail((err as Error).message);
  }
}

/** A PEM file named by a flag, or one line saying why it cannot be read. */
function readPem(flag: string, file: string): Buffer {
  try {
    const data = readFileSync(file);
    if (!/-----BEGIN [A-Z ]+-----/.test(data.toString('latin1'))) fail(`${flag} ${file} is not a PEM file`);
    return data;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(`cannot read ${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positiveDuration(flag: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0)
    fail(`invalid ${flag} ${JSON.stringify(v)}: use a duration like 30m or 1h`);
  return ms;
}

/** The collection policy of gc (flags --keep-…) and serve (--gc-keep-…). */
function parseGcPolicy(o: {
  keepStorage: string;
  keepWindow: string;
  keepRecent: string;
  keepBuildCache?: string;
  flag: string;
  dryRun?: boolean;
}): GcPolicy {
  const keepBytes = parseSize(o.keepStorage);
  if (keepBytes === undefined)
    fail(`invalid ${o.flag}keep-storage ${JSON.stringify(o.keepStorage)}: use a size like 50GB or 512MB`);
  const keepWindowMs = parseDuration(o.keepWindow);
  if (keepWindowMs === undefined)
    fail(`invalid ${o.flag}keep-window ${JSON.stringify(o.keepWindow)}: use a duration like 0, 30m or 24h`);
  const keepRecent = Number(o.keepRecent);
  if (!Number.isInteger(keepRecent) || keepRecent < 1)
    fail(`invalid ${o.flag}keep-recent ${JSON.stringify(o.keepRecent)}: use a whole number of at least 1`);
  let keepBuildCacheBytes: number | undefined;
  if (o.keepBuildCache !== undefined) {
    keepBuildCacheBytes = parseSize(o.keepBuildCache);
    if (keepBuildCacheBytes === undefined)
      fail(`invalid ${o.flag}keep-build-cache ${JSON.stringify(o.keepBuildCache)}: use a size like 20GB`);
  }
  return { keepBytes, keepWindowMs, keepRecent, keepBuildCacheBytes, dryRun: o.dryRun };
}

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

/** The limits given by `serve` flags; a value that is not a size, count or duration is one line. */
interface LimitFlags {
  projectQuota?: string;
  maxBuildsPerProject: string;
  maxSyncs: string;
  syncIdleTimeout: string;
  maxDockerfileSize: string;
  maxDockerfileInstructions: string;
  maxBuildArgs: string;
  maxBuildArgSize: string;
  maxBuildArgsTotal: string;
  maxContextEntries: string;
  maxFileSize: string;
  maxOutputSize: string;
  maxOutputFiles: string;
}

function serveLimits(o: LimitFlags): Partial<Limits> {
  const size = (flag: string, v: string) => {
    const n = parseSize(v);
    if (n === undefined || n <= 0)
      fail(`invalid ${flag} ${JSON.stringify(v)}: use a size such as 20GiB, 512MB or 1048576`);
    return n;
  };
  const count = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`invalid ${flag} ${JSON.stringify(v)}: use a positive integer`);
    return n;
  };
  const idle = parseDuration(o.syncIdleTimeout);
  if (idle === undefined || idle <= 0)
    fail(
      `invalid --sync-idle-timeout ${JSON.stringify(o.syncIdleTimeout)}: use a duration such as 60s or 500ms`,
    );
  return {
    projectQuotaBytes: o.projectQuota === undefined ? undefined : size('--project-quota', o.projectQuota),
    buildsPerProject: count('--max-builds-per-project', o.maxBuildsPerProject),
    syncs: count('--max-syncs', o.maxSyncs),
    syncIdleMs: idle,
    dockerfileBytes: size('--max-dockerfile-size', o.maxDockerfileSize),
    dockerfileInstructions: count('--max-dockerfile-instructions', o.maxDockerfileInstructions),
    buildArgs: count('--max-build-args', o.maxBuildArgs),
    buildArgBytes: size('--max-build-arg-size', o.maxBuildArgSize),
    buildArgsTotalBytes: size('--max-build-args-total', o.maxBuildArgsTotal),
    manifestEntries: count('--max-context-entries', o.maxContextEntries),
    blobBytes: size('--max-file-size', o.maxFileSize),
    outputBytes: size('--max-output-size', o.maxOutputSize),
    outputFiles: count('--max-output-files', o.maxOutputFiles),
  };
}

const program = new Command('depot-builder').version(BUILDER_VERSION).description('depot builder-host');

program
  .command('serve')
  .description('serve builds over gRPC against a Docker engine')
  .addOption(
    new Option('--engine <url>', 'Docker engine (unix:///PATH or tcp://HOST:PORT)')
      .env('DOCKER_HOST')
      .default(DEFAULT_ENGINE_HOST),
  )
  .requiredOption('--data <dir>', 'data directory (blobs, snapshots, tokens)')
  .requiredOption('--listen <addr>', 'HOST:PORT or unix:PATH')
  .option('--tls-cert <file>', 'TLS certificate (PEM; see depot-builder tls init)')
  .option('--tls-key <file>', 'TLS private key (PEM)')
  .option('--tls-client-ca <file>', 'require client certificates signed by this CA (PEM; mutual TLS)')
  .option('--insecure', 'allow plaintext (no --tls-cert/--tls-key) on a non-loopback address')
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
  .addOption(
    new Option(
      '--history <url>',
      'record builds into a PostgreSQL database shared by the fleet: postgres://USER@HOST/DB or postgres:///DB?host=SOCKETDIR (default: SQLite in the data directory)',
    ).env('DEPOT_HISTORY'),
  )
  .option('--history-max-age <days>', 'forget builds older than this many days', '30')
  .option('--history-max-builds <n>', 'keep at most this many builds in the history', '200000')
  .option(
    '--history-trace-max <size>',
    'largest event trace kept with each build for depot history show (compressed; step logs are cut first; 0 keeps none)',
    '4MiB',
  )
  .addOption(
    new Option(
      '--history-build-args <mode>',
      'how build-arg values are kept in the history: hashed (sha256 fingerprints) or plain',
    )
      .choices(['hashed', 'plain'])
      .default('hashed'),
  )
  .addOption(
    new Option('--driver <driver>', 'how builds reach the engine: session (BuildKit session) or tar')
      .choices(['session', 'tar'])
      .default('session'),
  )
  .option('--no-result-reuse', 'always ask the engine, even for a build identical to an earlier one')
  .option(
    '--allow-network-host',
    "let builds use --network host (RUN steps on this machine's network: only where every project is trusted)",
  )
  .option(
    '--projects <p,…>',
    'serve only these projects (other tokens are refused; fleet routing skips this builder for others)',
  )
  .option('--project-quota <size>', 'storage each project may hold, e.g. 20GiB (default: no quota)')
  .option('--max-builds-per-project <n>', 'builds one project may run at a time', '4')
  .option('--max-syncs <n>', 'contexts the builder receives at a time (all projects)', '64')
  .option(
    '--sync-idle-timeout <duration>',
    'end a sync whose client sends nothing this long (e.g. 60s, 500ms)',
    '60s',
  )
  .option('--max-dockerfile-size <size>', 'largest Dockerfile', '1MiB')
  .option('--max-dockerfile-instructions <n>', 'most instructions in a Dockerfile', '10000')
  .option('--max-build-args <n>', 'most build args of one build', '1000')
  .option('--max-build-arg-size <size>', 'largest build arg value', '64KiB')
  .option('--max-build-args-total <size>', "largest total of one build's args", '1MiB')
  .option('--max-context-entries <n>', 'most entries (files, dirs, links) in one context', '500000')
  .option('--max-file-size <size>', 'largest file in a context', '10GiB')
  .option('--max-output-size <size>', 'most bytes one build sends back with -o type=local|tar', '10GiB')
  .option('--max-output-files <n>', 'most paths one build sends back with -o type=local', '200000')
  .option(
    '--gc-keep-storage <size>',
    'collect garbage in the background down to this size (e.g. 50GB); off when absent',
  )
  .option('--gc-interval <duration>', 'how often the background collection runs', '1h')
  .option('--gc-keep-window <duration>', 'snapshots and images used within this long are always kept', '24h')
  .option('--gc-keep-recent <n>', "each project's most recently used snapshots always kept", '3')
  .option('--gc-keep-build-cache <size>', "also prune the engine's BuildKit cache down to this size")
  .action(
    async (
      o: {
        engine: string;
        data: string;
        listen: string;
        tlsCert?: string;
        tlsKey?: string;
        tlsClientCa?: string;
        insecure?: boolean;
        id?: string;
        platform?: string;
        emulate?: string;
        fleet?: string;
        advertise?: string;
        teamSecret?: string;
        fleetTtl: string;
        history?: string;
        historyMaxAge: string;
        historyMaxBuilds: string;
        historyTraceMax: string;
        historyBuildArgs: 'hashed' | 'plain';
        driver: 'session' | 'tar';
        allowNetworkHost?: boolean;
        resultReuse: boolean;
        projects?: string;
        gcKeepStorage?: string;
        gcInterval: string;
        gcKeepWindow: string;
        gcKeepRecent: string;
        gcKeepBuildCache?: string;
      } & LimitFlags,
    ) => {
      const limits = serveLimits(o);
      const projects = list(o.projects) ?? [];
      for (const p of projects)
        if (!PROJECT_NAME.test(p))
          fail(`invalid project ${JSON.stringify(p)} in --projects: use letters, digits, ".", "_" and "-"`);
      const gcPolicy = o.gcKeepStorage
        ? {
            ...parseGcPolicy({
              keepStorage: o.gcKeepStorage,
              keepWindow: o.gcKeepWindow,
              keepRecent: o.gcKeepRecent,
              keepBuildCache: o.gcKeepBuildCache,
              flag: '--gc-',
            }),
            intervalMs: positiveDuration('--gc-interval', o.gcInterval),
          }
        : undefined;
      const maxAgeDays = Number(o.historyMaxAge);
      const maxBuilds = Number(o.historyMaxBuilds);
      if (!(maxAgeDays > 0))
        fail(`invalid --history-max-age ${JSON.stringify(o.historyMaxAge)}: use a number of days`);
      if (!Number.isInteger(maxBuilds) || maxBuilds < 1)
        fail(`invalid --history-max-builds ${JSON.stringify(o.historyMaxBuilds)}: use a positive integer`);
      const traceMaxBytes = parseSize(o.historyTraceMax);
      if (traceMaxBytes === undefined || traceMaxBytes > 64 * 1024 * 1024)
        fail(
          `invalid --history-trace-max ${JSON.stringify(o.historyTraceMax)}: use a size up to 64MiB, e.g. 4MiB (0 keeps no traces)`,
        );
      // Only a URL: a path would read as SQLite, which the data directory already holds.
      if (o.history !== undefined && !/^postgres(ql)?:\/\//i.test(o.history))
        fail(
          'invalid --history: use a PostgreSQL URL, postgres://USER@HOST/DB or postgres:///DB?host=SOCKETDIR',
        );
      if (!!o.tlsCert !== !!o.tlsKey) fail('--tls-cert and --tls-key go together');
      if (o.tlsClientCa && !o.tlsCert) fail('--tls-client-ca needs --tls-cert and --tls-key');
      const listen = listenAddress(o.listen);
      // A token sent in plaintext off this machine can be read and replayed by anyone on the path.
      if (!o.tlsCert && !o.insecure && !isLocalAddress(listen))
        fail(
          `refusing to serve plaintext on ${listen}: pass --tls-cert/--tls-key (see depot-builder tls init) or --insecure`,
        );
      const tls =
        o.tlsCert && o.tlsKey
          ? {
              cert: readPem('--tls-cert', o.tlsCert),
              key: readPem('--tls-key', o.tlsKey),
              clientCa: o.tlsClientCa ? readPem('--tls-client-ca', o.tlsClientCa) : undefined,
            }
          : undefined;
      const { createLogger, startBuilderHost } = await import('./host.js');
      const logger = createLogger();
      try {
        const host = await startBuilderHost({
          engine: engineAddress(o.engine),
          dataDir: o.data,
          listen,
          tls,
          logger,
          id: o.id,
          platforms: list(o.platform),
          emulated: list(o.emulate),
          fleet: o.fleet
            ? { spec: o.fleet, endpoint: o.advertise ?? '', ttlMs: Number(o.fleetTtl) }
            : undefined,
          teamSecret: o.teamSecret,
          history: {
            maxAgeDays,
            maxBuilds,
            buildArgs: o.historyBuildArgs,
            database: o.history,
            traceMaxBytes,
          },
          driver: o.driver,
          allowNetworkHost: o.allowNetworkHost ?? false,
          resultReuse: o.resultReuse,
          limits,
          projects: projects.length ? projects : undefined,
          gc: gcPolicy,
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
      if (o.project !== undefined && !PROJECT_NAME.test(o.project))
        fail(
          `invalid project ${JSON.stringify(o.project)}: use letters, digits, ".", "_" and "-" (up to 128); for a token of every project pass --admin`,
        );
      // Project "*" is what makes a token an admin token (see server ADMIN_PROJECT).
      const project = o.admin ? '*' : o.project!;
      if (o.teamSecret) {
        const [{ issueTeamToken }, { loadTeamSecret }] = await Promise.all([
          import('./auth/index.js'),
          import('../../src/protocol/fleet/index.js'),
        ]);
        const { token: t, record } = issueTeamToken(await loadTeamSecret(o.teamSecret), project, o.user);
        process.stdout.write(`${t}\n`);
        process.stderr.write(
          `token id ${record.id} (revoke with: depot-builder token revoke --fleet SPEC ${record.id})\n`,
        );
        return;
      }
      const { createTokenStore } = await import('./auth/index.js');
      const { token: t } = await createTokenStore(o.data!).create(project, o.user);
      process.stdout.write(`${t}\n`);
    },
  );
token
  .command('ls')
  .description('list tokens (never their secrets)')
  .requiredOption('--data <dir>', 'data directory of the builder')
  .action(async (o: { data: string }) => {
    const { createTokenStore } = await import('./auth/index.js');
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
      const { openFleet } = await import('../../src/protocol/fleet/index.js');
      await openFleet(o.fleet).revokeToken(id);
      return;
    }
    if (!o.data) fail('pass --data DIR or --fleet SPEC');
    const { createTokenStore } = await import('./auth/index.js');
    if (!(await createTokenStore(o.data).revoke(id))) fail(`no token with id ${id}`);
  });

const tlsCmd = program.command('tls').description('certificates for serving over TLS');
tlsCmd
  .command('init')
  .description(
    'make a private CA, a server certificate (and a client one) for --tls-cert/--tls-key in one step',
  )
  .requiredOption('--out <dir>', 'directory for ca.pem, ca-key.pem, server.pem, server-key.pem')
  .option('--host <name>', 'DNS name clients use for the builder (repeatable)', collect, [])
  .option('--ip <ip>', 'IP address clients use for the builder (repeatable)', collect, [])
  .option('--client <name>', 'also client.pem/client-key.pem for serve --tls-client-ca (mutual TLS)')
  .option('--days <n>', 'validity of the server and client certificates', '825')
  .action(async (o: { out: string; host: string[]; ip: string[]; client?: string; days: string }) => {
    const days = Number(o.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      fail(`invalid --days ${JSON.stringify(o.days)}: use a whole number of days from 1 to 3650`);
    const { defaultServerNames, initTls, TlsInitError } = await import('./tls/index.js');
    const names = o.host.length || o.ip.length ? { hosts: o.host, ips: o.ip } : defaultServerNames();
    try {
      const written = await initTls({ outDir: o.out, ...names, client: o.client, days });
      for (const p of written) process.stdout.write(`${p}\n`);
      process.stderr.write(
        `server certificate for ${[...names.hosts, ...names.ips].join(', ')}; serve with --tls-cert ${written[2]} --tls-key ${written[3]}` +
          `${o.client !== undefined ? ` --tls-client-ca ${written[0]}` : ''}; clients set DEPOT_TLS_CA=${written[0]}` +
          `${o.client !== undefined ? ` DEPOT_TLS_CERT=${written[4]} DEPOT_TLS_KEY=${written[5]}` : ''}; keep ca-key.pem secret\n`,
      );
    } catch (err) {
      if (err instanceof TlsInitError) fail(err.message);
      throw err;
    }
  });

/** Opens an existing data directory's store under the maintenance lock, or fails with one line. */
async function openLocked(dataDir: string): Promise<{ store: Store; release: () => Promise<void> }> {
  if (!existsSync(join(dataDir, 'store.db')))
    fail(`${dataDir} is not a builder data directory (no store.db)`);
  const { acquireMaintenance, createStore, StoreError } = await import('./store/index.js');
  let release: () => Promise<void>;
  try {
    release = await acquireMaintenance(dataDir);
  } catch (err) {
    if (err instanceof StoreError) fail(err.message);
    throw err;
  }
  try {
    return { store: await createStore(dataDir), release };
  } catch (err) {
    await release();
    fail(`cannot open ${dataDir}: ${(err as Error).message}`);
  }
}

program
  .command('gc')
  .description('delete what the builder no longer needs: old snapshots, unused blobs, old result images')
  .requiredOption('--data <dir>', 'data directory of the builder (no builder may be serving it)')
  .option('--dry-run', 'print what would be deleted, delete nothing')
  .option('--keep-storage <size>', 'size to stay under (store; and images with --engine)', '50GB')
  .option('--keep-window <duration>', 'snapshots and images used within this long are always kept', '24h')
  .option('--keep-recent <n>', "each project's most recently used snapshots always kept", '3')
  .option(
    '--engine <url>',
    'also remove old result images from this engine (unix:///PATH or tcp://HOST:PORT)',
  )
  .option(
    '--keep-build-cache <size>',
    "also prune the engine's BuildKit cache down to this size (needs --engine)",
  )
  .action(
    async (o: {
      data: string;
      dryRun?: boolean;
      keepStorage: string;
      keepWindow: string;
      keepRecent: string;
      engine?: string;
      keepBuildCache?: string;
    }) => {
      const policy = parseGcPolicy({ ...o, flag: '--', dryRun: o.dryRun === true });
      if (o.keepBuildCache !== undefined && !o.engine) fail('--keep-build-cache needs --engine');
      const engine = o.engine ? engineAddress(o.engine) : undefined;
      const [{ createImageNamespaces, loadNamespaceKey }, { formatGcReport, runGc }] = await Promise.all([
        import('./server/index.js'),
        import('./gc/index.js'),
      ]);
      const { store, release } = await openLocked(o.data);
      try {
        const namespaces = engine ? createImageNamespaces(await loadNamespaceKey(o.data)) : undefined;
        const report = await runGc(
          store,
          policy,
          engine && namespaces ? { host: engine, namespaces } : undefined,
        );
        for (const line of formatGcReport(report)) process.stdout.write(`${line}\n`);
      } catch (err) {
        fail(`gc failed: ${(err as Error).message}`);
      } finally {
        store.ownership.close();
        await release();
      }
    },
  );

program
  .command('fsck')
  .description('re-hash every blob and snapshot; move corrupt ones to <data>/quarantine/ (exit 1 when any)')
  .requiredOption('--data <dir>', 'data directory of the builder (no builder may be serving it)')
  .action(async (o: { data: string }) => {
    const { formatBytes, fsckStore } = await import('./gc/index.js');
    const { store, release } = await openLocked(o.data);
    let problems = 0;
    try {
      const r = await fsckStore(store);
      problems = r.problems.length;
      for (const p of r.problems)
        process.stdout.write(
          `${p.problem} ${p.kind} ${p.id}${p.quarantined ? ` moved to ${p.quarantined}` : ''}${p.projects.length ? ` (claims dropped: ${p.projects.join(', ')})` : ''}\n`,
        );
      process.stdout.write(
        `checked ${r.blobs} blobs and ${r.snapshots} snapshots (${formatBytes(r.bytes)}): ${problems ? `${problems} problems, the next sync of the projects named uploads again` : 'clean'}\n`,
      );
    } finally {
      store.ownership.close();
      await release();
    }
    if (problems) process.exit(1);
  });

program.parseAsync(process.argv).catch((err) => fail((err as Error).message));
