import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dockerBooleanArgs, engineFlags, ramInBytes, readEngineFlags } from './engine-flags.js';

const shared = { builderId: 'b1', capabilities: ['build.engine-options'], engineVersion: '20.10.24' };

test("sizes read as docker's RAMInBytes", () => {
  assert.equal(ramInBytes('--shm-size', '64m'), 64 * 1024 ** 2);
  assert.equal(ramInBytes('--shm-size', '1g'), 1024 ** 3);
  assert.equal(ramInBytes('--shm-size', '1GiB'), 1024 ** 3);
  assert.equal(ramInBytes('--shm-size', '512kb'), 512 * 1024);
  assert.equal(ramInBytes('--shm-size', '1048576'), 1048576);
  assert.throws(() => ramInBytes('--shm-size', 'lots'), /invalid --shm-size "lots"/);
  assert.throws(() => ramInBytes('--shm-size', '-1m'), /invalid --shm-size/);
});

test('boolean flags take =true|false as docker does', () => {
  assert.deepEqual(dockerBooleanArgs('--rm=false'), []);
  assert.deepEqual(dockerBooleanArgs('--squash=true'), ['--squash']);
  assert.deepEqual(dockerBooleanArgs('--tag=app'), ['--tag=app']);
  assert.throws(() => dockerBooleanArgs('--compress=maybe'), /invalid --compress value "maybe"/);
});

test('what is served goes to engine_options; what is ignored is a note', () => {
  const r = engineFlags(
    {
      network: 'none',
      addHost: ['db:10.0.0.1', 'v6=fd00::1'],
      cacheFrom: ['app:cache', 'type=registry,ref=r.example/app:c'],
      cacheTo: ['type=inline'],
      memory: '512m',
      memorySwap: '-1',
      cpuShares: '512',
    },
    shared,
  );
  assert.deepEqual(r.engineOptions, {
    network: 'none',
    addHosts: ['db:10.0.0.1', 'v6:fd00::1'],
    cacheFrom: ['app:cache', 'r.example/app:c'],
    inlineCache: true,
    memory: 512 * 1024 ** 2,
    memorySwap: -1,
    cpuShares: 512,
  });
  assert.equal(r.notes.length, 3);
  assert.deepEqual(engineFlags({ network: 'default' }, shared), { engineOptions: undefined, notes: [] });
});

test('decided by the capabilities: a builder that gains one needs no new client', () => {
  assert.throws(
    () => engineFlags({ buildContext: ['a=../x'] }, shared),
    /--build-context needs named build contexts .*, which the engine of builder b1 \(Docker 20\.10\.24\) does not have/,
  );
  assert.doesNotThrow(() =>
    engineFlags(
      { buildContext: ['a=../x'] },
      { ...shared, capabilities: [...shared.capabilities, 'build.contexts'] },
    ),
  );
  assert.throws(
    () => engineFlags({ network: 'host' }, shared),
    /--network host is not allowed on builder b1/,
  );
  assert.equal(
    engineFlags(
      { network: 'host' },
      { ...shared, capabilities: [...shared.capabilities, 'build.network.host'] },
    ).engineOptions?.network,
    'host',
  );
  assert.match(engineFlags({ shmSize: '1g' }, shared).notes[0] ?? '', /--shm-size is accepted and ignored/);
  assert.deepEqual(
    engineFlags(
      { shmSize: '1g' },
      { ...shared, capabilities: [...shared.capabilities, 'build.shm-size-ulimit'] },
    ).notes,
    [],
  );
  // An older builder that passes nothing on: refused rather than silently dropped.
  assert.throws(
    () => engineFlags({ addHost: ['a:1.2.3.4'] }, { builderId: 'old', capabilities: [] }),
    /builder old does not take docker build's engine flags/,
  );
});

test("the protocol's check runs on the flags with no builder: one invalid_flag line each", () => {
  const cases: Array<[Parameters<typeof readEngineFlags>[0], RegExp]> = [
    [{ network: 'bridge2' }, /^--network "bridge2": BuildKit builds take default, none or host$/],
    [{ addHost: ['nocolon'] }, /^invalid --add-host "nocolon": use HOST:IP/],
    [{ addHost: ['v6=not-an-ip'] }, /^invalid --add-host "v6=not-an-ip": use HOST:IP/],
    [
      { addHost: Array.from({ length: 65 }, (_, i) => `h${i}:10.0.0.1`) },
      /^65 --add-host values, more than the limit of 64$/,
    ],
    [{ shmSize: '9g' }, /^--shm-size must be between 0 and 8 GiB$/],
    [{ ulimit: ['nofile'] }, /^invalid --ulimit "nofile": use NAME=SOFT\[:HARD\]/],
    [{ ulimit: ['bogus=1'] }, /^invalid --ulimit "bogus=1"/],
    [{ ulimit: ['nofile=10:5'] }, /the soft limit is above the hard one$/],
    [{ cacheFrom: ['type=registry,ref=x/UPPER'] }, /^invalid --cache-from "x\/UPPER"/],
    [{ cpuShares: '-5' }, /^--cpu-shares must not be negative$/],
    [{ cpusetCpus: '0-3;rm' }, /^invalid --cpuset-cpus "0-3;rm": use e\.g\. 0-3 or 0,1$/],
  ];
  for (const [flags, want] of cases) {
    for (const check of [() => readEngineFlags(flags), () => engineFlags(flags, shared)])
      assert.throws(
        check,
        (err: Error & { code?: string }) => err.code === 'invalid_flag' && want.test(err.message),
        JSON.stringify(flags).slice(0, 80),
      );
  }
  assert.deepEqual(readEngineFlags({ network: 'host', memory: '1g' }), {
    engineOptions: { network: 'host', memory: 1024 ** 3 },
    notes: [
      '--memory is accepted and ignored: BuildKit builds do not apply it (docker build ignores it too)',
    ],
  });
});
