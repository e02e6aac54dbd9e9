import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DepotError } from '../errors/index.js';
import { checkEngineOptions, ENGINE_OPTION_LIMITS, readAddHost } from './engine-options.js';
import type { EngineOptions } from './generated/depot/builder/v1/EngineOptions.js';

test('good values pass, as the engine takes them', () => {
  const good: Array<[EngineOptions, ReturnType<typeof checkEngineOptions>]> = [
    [{}, undefined],
    [{ network: '' }, undefined],
    [{ network: 'default' }, undefined],
    [{ network: 'none' }, { network: 'none' }],
    [{ network: 'host' }, { network: 'host' }],
    [{ addHosts: ['db:10.0.0.1'] }, { addHosts: ['db:10.0.0.1'] }],
    [{ addHosts: ['v6:fd00::1', 'b:[::1]'] }, { addHosts: ['v6:fd00::1', 'b:[::1]'] }],
    [{ addHosts: ['gw.local:host-gateway'] }, { addHosts: ['gw.local:host-gateway'] }],
    [{ shmSize: 0 }, undefined],
    [{ shmSize: '67108864' }, { shmSize: 64 * 1024 ** 2 }],
    [{ shmSize: 8 * 1024 ** 3 }, { shmSize: 8 * 1024 ** 3 }],
    [{ ulimits: ['nofile=1024:2048'] }, { ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] }],
    [{ ulimits: ['nproc=10'] }, { ulimits: [{ Name: 'nproc', Soft: 10, Hard: 10 }] }],
    [{ ulimits: ['core=5:-1'] }, { ulimits: [{ Name: 'core', Soft: 5, Hard: -1 }] }],
    [
      { cacheFrom: ['app:cache', `r.example:5000/a/b@sha256:${'a'.repeat(64)}`] },
      { cacheFrom: ['app:cache', `r.example:5000/a/b@sha256:${'a'.repeat(64)}`] },
    ],
    [{ inlineCache: true }, { inlineCache: true }],
    [
      { memory: 512 * 1024 ** 2, memorySwap: -1 },
      { memory: 512 * 1024 ** 2, memorySwap: -1 },
    ],
    [
      { cpuShares: '512', cpuPeriod: 0, cpuQuota: { toString: () => '50000' } as never },
      { cpuShares: 512, cpuQuota: 50000 },
    ],
    [
      { cpusetCpus: '0-3', cpusetMems: '0,1,4-5' },
      { cpusetCpus: '0-3', cpusetMems: '0,1,4-5' },
    ],
    [{ cpusetCpus: '' }, undefined],
  ];
  for (const [input, want] of good) assert.deepEqual(checkEngineOptions(input), want, JSON.stringify(input));
  assert.equal(checkEngineOptions(undefined), undefined);
  assert.equal(checkEngineOptions(null), undefined);
});

test('bad values are refused in one line naming the flag (invalid_flag)', () => {
  const L = ENGINE_OPTION_LIMITS;
  const bad: Array<[EngineOptions, RegExp]> = [
    [{ network: 'bridge' }, /^--network "bridge": BuildKit builds take default, none or host$/],
    [{ network: 'container:abc' }, /^--network "container:abc": BuildKit builds take/],
    [{ addHosts: ['nocolon'] }, /^invalid --add-host "nocolon": use HOST:IP \(an IPv4 or IPv6 address\)$/],
    [{ addHosts: ['h:not-an-ip'] }, /^invalid --add-host "h:not-an-ip": use HOST:IP/],
    [{ addHosts: ['evil\nhost:1.2.3.4'] }, /^invalid --add-host "evil\\nhost:1\.2\.3\.4"/],
    [{ addHosts: [':1.2.3.4'] }, /^invalid --add-host/],
    [{ addHosts: ['h=1.2.3.4'] }, /^invalid --add-host "h=1\.2\.3\.4"/],
    [
      { addHosts: [`h:${'1'.repeat(L.valueLength)}`] },
      /^--add-host value too long \(at most 512 characters\)$/,
    ],
    [{ addHosts: ['h:1.2.3.4\0'] }, /^--add-host value too long/],
    [
      { addHosts: Array.from({ length: L.addHosts + 1 }, (_, i) => `h${i}:10.0.0.1`) },
      /^65 --add-host values, more than the limit of 64$/,
    ],
    [{ shmSize: -1 }, /^--shm-size must be between 0 and 8 GiB$/],
    [{ shmSize: L.shmBytes + 1 }, /^--shm-size must be between 0 and 8 GiB$/],
    [{ shmSize: '1.5' }, /^--shm-size: not a whole number$/],
    [{ ulimits: ['nofile'] }, /^invalid --ulimit "nofile": use NAME=SOFT\[:HARD\], e\.g\. nofile=1024:2048$/],
    [{ ulimits: ['bogus=1'] }, /^invalid --ulimit "bogus=1": use NAME=SOFT/],
    [{ ulimits: ['NOFILE=1'] }, /^invalid --ulimit "NOFILE=1"/],
    [{ ulimits: ['nofile=10:5'] }, /^invalid --ulimit "nofile=10:5": the soft limit is above the hard one$/],
    [{ ulimits: ['nofile=99999999999999999999'] }, /^invalid --ulimit "nofile=9+"/],
    [
      { ulimits: Array.from({ length: L.ulimits + 1 }, () => 'nofile=1') },
      /^33 --ulimit values, more than the limit of 32$/,
    ],
    [{ cacheFrom: ['UPPER/Case:bad'] }, /^invalid --cache-from "UPPER\/Case:bad": .*must be lowercase/],
    [{ cacheFrom: [''] }, /^invalid --cache-from "": invalid reference format/],
    [
      { cacheFrom: Array.from({ length: L.cacheFrom + 1 }, (_, i) => `r/c:${i}`) },
      /^17 --cache-from values, more than the limit of 16$/,
    ],
    [{ memory: -5 }, /^--memory must not be negative$/],
    [{ memorySwap: -2 }, /^--memory-swap must not be negative$/],
    [{ cpuShares: '-1' }, /^--cpu-shares must not be negative$/],
    [{ cpuPeriod: 'ten' }, /^--cpu-period: not a whole number$/],
    [{ cpuQuota: 2 ** 60 }, /^--cpu-quota: not a whole number$/],
    [{ cpusetCpus: '0-3;rm -rf' }, /^invalid --cpuset-cpus "0-3;rm -rf": use e\.g\. 0-3 or 0,1$/],
    [{ cpusetMems: '0,' }, /^invalid --cpuset-mems "0,"/],
    [{ cpusetCpus: `${'0,'.repeat(128)}1` }, /^invalid --cpuset-cpus/],
  ];
  for (const [input, want] of bad) {
    let thrown: unknown;
    try {
      checkEngineOptions(input);
    } catch (err) {
      thrown = err;
    }
    const label = JSON.stringify(input).slice(0, 80);
    assert.ok(thrown instanceof DepotError, `${label}: refused`);
    assert.equal(thrown.code, 'invalid_flag', label);
    assert.match(thrown.message, want, label);
    assert.ok(!thrown.message.includes('\n'), `${label}: one line`);
  }
});

test("--add-host: docker's HOST:IP, and buildx's HOST=IP where the client reads its flags", () => {
  assert.equal(readAddHost('db:10.0.0.1'), 'db:10.0.0.1');
  assert.equal(readAddHost('v6:fd00::1'), 'v6:fd00::1');
  assert.equal(readAddHost('v6=fd00::1', true), 'v6:fd00::1');
  assert.equal(readAddHost('db=10.0.0.1', true), 'db:10.0.0.1');
  assert.throws(() => readAddHost('db=10.0.0.1'), /invalid --add-host "db=10\.0\.0\.1"/);
  assert.throws(() => readAddHost('v6=fd00::zz', true), /invalid --add-host "v6=fd00::zz"/);
});
