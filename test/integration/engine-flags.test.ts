/**
 * docker build's engine flags through a real builder and dockerd: the effect of each served flag
 * is observed inside the build (a RUN that prints /etc/hosts and its network interfaces), the
 * image id file holds the image id, `--cache-from` reuses a pushed image's inline cache on an
 * engine that never built it, accepted-and-ignored flags say so, refused flags answer with the
 * reason, and a builder that does not allow `--network host` refuses it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  DOCKER,
  depot,
  devOn,
  docker,
  LAPTOP_ENGINE,
  registry,
  skipReason,
  startBuilder,
  tempDir,
} from './harness.js';

const skip = skipReason();

describe('depot build: docker build engine flags', { skip }, () => {
  let builder: BuilderProcess;
  let token = '';
  const project = `flags-${process.pid}`;
  const ctx = tempDir('engine-flags');
  const nonce = `${process.pid}-${Date.now()}`;
  writeFileSync(
    join(ctx, 'Dockerfile'),
    'FROM busybox\nARG N\nRUN echo "n=$N"; cat /etc/hosts; echo "nets=$(ls /sys/class/net | tr "\\n" " ")"\n',
  );
  const build = (args: string[], n = `${nonce}-${Math.random()}`) =>
    depot([...buildOn(builder.url, token, project), '--build-arg', `N=${n}`, ...args, ctx]);

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project);
  });
  after(async () => {
    await builder?.stop();
  });

  test('--add-host lands in /etc/hosts of RUN steps; --network none leaves only loopback', async () => {
    const r = await build([
      '--add-host',
      'db.internal:10.1.2.3',
      '--add-host',
      'v6.internal=fd00::1',
      '--network',
      'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /10\.1\.2\.3\s+db\.internal/);
    assert.match(r.stderr, /fd00::1\s+v6\.internal/);
    assert.match(r.stderr, /nets=lo \n/);
    const plain = await build([]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stderr,
      /nets=(?=.*eth0).*lo/,
      'the default network has an interface besides loopback',
    );
    assert.doesNotMatch(plain.stderr, /db\.internal/);
  });

  test('--iidfile holds the image id (-q prints the same)', async () => {
    const file = join(tempDir('iid'), 'iid');
    const n = `${nonce}-iid`;
    const r = await build(['--iidfile', file, '-q'], n);
    assert.equal(r.code, 0, r.stderr);
    const id = readFileSync(file, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(r.stdout.trim(), id);
  });

  test('accepted as docker accepts them: ignored flags say so, the build runs', async () => {
    const r = await build([
      '--memory',
      '512m',
      '--cpu-shares',
      '512',
      '--shm-size',
      '128m',
      '--ulimit',
      'nofile=1024:2048',
      '--security-opt',
      'seccomp=unconfined',
      '--rm=false',
      '--force-rm',
      '--squash=false',
      '--compress',
      '--isolation',
      'default',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /depot: note: --memory is accepted and ignored: BuildKit builds do not apply it/);
    assert.match(
      r.stderr,
      /depot: note: --shm-size is accepted and ignored: the engine of builder \S+ \(Docker 20\./,
    );
    assert.match(r.stderr, /depot: note: --security-opt is accepted and ignored/);
  });

  test('refused flags: one line each with the reason; bad values too', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['--build-context', 'a=../x'],
        /^depot: --build-context needs named build contexts \(BuildKit 0\.10 and later\), which the engine of builder \S+ \(Docker 20\.[^)]*\) does not have/,
      ],
      [['--sbom', 'true'], /^depot: --sbom needs attestations/],
      [['--provenance', 'mode=max'], /^depot: --provenance needs attestations/],
      [['--attest', 'type=sbom'], /^depot: --attest needs attestations/],
      [['--annotation', 'a=b'], /^depot: --annotation needs image annotations/],
      [['--no-cache-filter', 'build'], /^depot: --no-cache-filter needs per-stage cache filters/],
      [['--call', 'check'], /^depot: --call needs frontend methods/],
      [['--allow', 'network.host'], /^depot: --allow needs entitlements/],
      [
        ['--cgroup-parent', '/x'],
        /^depot: --cgroup-parent would place build containers in a cgroup of the builder host/,
      ],
      [['--squash'], /^depot: --squash needs the engine's experimental classic builder/],
      [['--squash=true'], /^depot: --squash needs the engine's experimental classic builder/],
      [['--rm=maybe'], /^depot: invalid --rm value "maybe": use true or false/],
      [
        ['--network', 'host'],
        /^depot: --network host is not allowed on builder \S+: RUN steps would share the network/,
      ],
      [['--network', 'bridge2'], /^depot: --network "bridge2": BuildKit builds take default, none or host/],
      [['--add-host', 'nocolon'], /^depot: invalid --add-host "nocolon": use HOST:IP/],
      [['--shm-size', 'lots'], /^depot: invalid --shm-size "lots": use a size such as 64m or 1g/],
      [['--ulimit', 'nofile'], /^depot: invalid --ulimit "nofile"/],
      [
        ['--cache-to', 'type=registry,ref=x/y'],
        /^depot: --cache-to "type=registry,ref=x\/y": the engine's builds export their cache only inline/,
      ],
      [
        ['--cache-from', 'type=local,src=/tmp'],
        /^depot: --cache-from "type=local,src=\/tmp": the engine's builds import cache only from images/,
      ],
      [
        ['--isolation', 'hyperv'],
        /^depot: --isolation "hyperv": Linux engines have only the default isolation/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = await build(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0] ?? '', want, args.join(' '));
      assert.ok(lines.length <= 2, `${args.join(' ')}: one line (and a hint): ${r.stderr}`);
    }
  });

  test('bad values are refused before any builder is contacted (the builder checks the same)', async () => {
    // No builder listens there: what answers is the flags' own check.
    const nowhere = buildOn('tcp://127.0.0.1:1', token, project);
    const cases: Array<[string[], RegExp]> = [
      [['--add-host', 'db:not-an-ip'], /^depot: invalid --add-host "db:not-an-ip": use HOST:IP/],
      [
        ['--ulimit', 'nofile=10:5'],
        /^depot: invalid --ulimit "nofile=10:5": the soft limit is above the hard one/,
      ],
      [['--shm-size', '9g'], /^depot: --shm-size must be between 0 and 8 GiB/],
      [['--cpuset-cpus', '0-3;x'], /^depot: invalid --cpuset-cpus "0-3;x": use e\.g\. 0-3 or 0,1/],
      [['--network', 'bridge2'], /^depot: --network "bridge2": BuildKit builds take default, none or host/],
    ];
    for (const [args, want] of cases)
      for (const argv of [
        [...nowhere, ...args, ctx],
        [...devOn('tcp://127.0.0.1:1', token, 'plain'), ...args, ctx],
      ]) {
        const r = await depot(argv);
        assert.equal(r.code, 1, `${argv.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr.trim().split('\n')[0] ?? '', want, argv.join(' '));
        assert.doesNotMatch(r.stderr, /cannot reach/);
      }
  });

  test('--network host: refused by a shared builder, served where its operator allows it', async () => {
    const open = await startBuilder({ args: ['--allow-network-host'] });
    try {
      const r = await depot([
        ...buildOn(open.url, open.token(project), project),
        '--build-arg',
        `N=${nonce}-host`,
        '--network',
        'host',
        ctx,
      ]);
      assert.equal(r.code, 0, r.stderr);
      // The builder host's interfaces: more than a container's lo + eth0 (its bridges at least).
      const nets = /\d nets=([^\n]*)/.exec(r.stderr)?.[1]?.trim().split(' ') ?? [];
      assert.ok(
        nets.some((n) => n.startsWith('dpt-') || n.startsWith('docker')),
        `host interfaces: ${nets.join(' ')}`,
      );
    } finally {
      await open.stop();
    }
  });

  test('--cache-from reuses the inline cache of a pushed image on an engine that never built it', async () => {
    const reg = registry('start', `cache-from-${process.pid}`);
    const cold = await startBuilder({ engine: LAPTOP_ENGINE });
    try {
      const cacheCtx = tempDir('cache-from');
      // The same base image (same id) on both engines: the private engines' busybox images were
      // imported apart, and a cache chain starts at the base image's id.
      const base = `depot-it/cache-base:${process.pid}`;
      assert.equal(docker(BUILDER_ENGINE, ['tag', 'busybox', base]).code, 0);
      const saved = execFileSync(DOCKER, ['save', base], {
        env: { ...process.env, DOCKER_HOST: BUILDER_ENGINE },
        maxBuffer: 64 * 1024 * 1024,
      });
      execFileSync(DOCKER, ['load', '-q'], {
        env: { ...process.env, DOCKER_HOST: LAPTOP_ENGINE },
        input: saved,
      });
      // A slow step worth reusing; the nonce makes it new to every engine.
      writeFileSync(
        join(cacheCtx, 'Dockerfile'),
        `FROM ${base}\nRUN echo ${nonce} > /stamp && sleep 1\nRUN cat /stamp\n`,
      );
      const ref = `${reg}/depot-it/cache-from:${process.pid}`;
      const pushed = await depot([
        ...buildOn(builder.url, token, project),
        '--cache-to',
        'type=inline',
        '--push',
        '-t',
        ref,
        cacheCtx,
      ]);
      assert.equal(pushed.code, 0, pushed.stderr);
      const coldToken = cold.token(project);
      const r = await depot([
        ...buildOn(cold.url, coldToken, project),
        '--cache-from',
        `type=registry,ref=${ref}`,
        cacheCtx,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /RUN echo \S+ > \/stamp && sleep 1\n#\d+ CACHED/,
        'the step came from the pushed image',
      );
    } finally {
      await cold.stop();
      registry('stop', `cache-from-${process.pid}`);
      for (const e of [BUILDER_ENGINE, LAPTOP_ENGINE])
        docker(e, ['rmi', `depot-it/cache-base:${process.pid}`]);
    }
  });
});
