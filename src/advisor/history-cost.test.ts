import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadBuilderProto, ownProtocolVersion } from '../protocol/index.js';
import {
  CAPABILITY_STEP_COSTS,
  createBuilderSession,
  DepotError,
  type StepCostsResponseWire,
} from '../session/index.js';
import {
  costLine,
  costText,
  fromWire,
  type HistoryCost,
  readHistoryCost,
  sameInstruction,
  smartCacheTakes,
} from './history-cost.js';

const MIN = 60_000;

// 50 builds of COPY . . then RUN npm ci: the copy invalidated the install 38 times (31 min), 36 of
// them changing no manifest, 1 with a capped diff.
const WIRE: StepCostsResponseWire = {
  builds: 50,
  last: 50,
  moreSteps: 0,
  steps: [
    {
      instr: 'RUN npm ci',
      runs: 50,
      misses: 39,
      rootMisses: 1,
      cascadedMisses: 38,
      costMs: 32 * MIN,
      rootCostMs: MIN,
      causedBy: [
        {
          root: 'COPY . .',
          count: 38,
          costMs: 31 * MIN,
          installReuse: {
            tool: 'npm',
            manifests: ['package.json', 'package-lock.json', 'npm-shrinkwrap.json'],
            reusable: 36,
            reusableMs: 29 * MIN,
            unknown: 1,
          },
        },
      ],
    },
    {
      instr: 'RUN npm run build',
      runs: 50,
      misses: 39,
      rootMisses: 0,
      cascadedMisses: 39,
      costMs: 3 * MIN,
      rootCostMs: 0,
      causedBy: [{ root: 'COPY . .', count: 39, costMs: 3 * MIN, installReuse: null }],
    },
    {
      instr: 'COPY . .',
      runs: 50,
      misses: 39,
      rootMisses: 39,
      cascadedMisses: 0,
      costMs: 12_000,
      rootCostMs: 12_000,
      causedBy: [],
    },
    {
      instr: 'WORKDIR /app',
      runs: 50,
      misses: 0,
      rootMisses: 0,
      cascadedMisses: 0,
      costMs: 0,
      rootCostMs: 0,
      causedBy: [],
    },
  ],
};

const history: HistoryCost = { available: true, costs: fromWire(WIRE) };

test('a finding that invalidates an install says how often, what it cost and what the smart cache would have reused', () => {
  assert.equal(
    costLine({ instruction: 'COPY . .', affects: ['RUN npm ci'] }, history),
    'invalidated RUN npm ci in 38 of the last 50 builds: 31 min; --smart-cache would have reused it in 36 (1 unknown: changes not recorded in full)',
  );
  // Two affected steps; the second is no install, so nothing is claimed for it.
  assert.equal(
    costLine({ instruction: 'copy  .   .', affects: ['RUN npm ci', 'RUN  npm run build'] }, history),
    'invalidated RUN npm ci in 38 of the last 50 builds: 31 min; --smart-cache would have reused it in 36 (1 unknown: changes not recorded in full); invalidated RUN npm run build in 39 of the last 50 builds: 3 min',
  );
});

test("a finding without affected steps gets its own instruction's misses", () => {
  assert.equal(costLine({ instruction: 'COPY . .' }, history), 'missed in 39 of the last 50 builds: 12 s');
  assert.equal(
    costLine({ instruction: 'RUN npm run build' }, history),
    'missed in 39 of the last 50 builds: 3 min (39 after an earlier miss, 39 after COPY . .)',
  );
  assert.equal(
    costLine({ instruction: 'WORKDIR /app' }, history),
    'cached in all 50 runs of the last 50 builds',
  );
  // Affected steps the history never saw fall back to the instruction's own record.
  assert.equal(
    costLine({ instruction: 'COPY . .', affects: ['RUN pip install -r requirements.txt'] }, history),
    'missed in 39 of the last 50 builds: 12 s',
  );
  assert.equal(costLine({ instruction: 'RUN make' }, history), undefined);
});

test('no builds, or no history at all', () => {
  const none: HistoryCost = { available: true, costs: { builds: 0, last: 50, steps: [], moreSteps: 0 } };
  assert.equal(costLine({ instruction: 'COPY . .', affects: ['RUN npm ci'] }, none), undefined);
  const gone: HistoryCost = { available: false, reason: 'the builder does not record step costs' };
  assert.equal(
    costLine({ instruction: 'COPY . .' }, gone),
    'history unavailable: the builder does not record step costs',
  );
});

test('instructions match as the history keeps them: keyword case, spacing, continuations, cut texts', () => {
  assert.ok(sameInstruction('RUN npm ci', 'run npm ci'));
  assert.ok(
    sameInstruction(
      'RUN apt-get update && apt-get install -y git',
      'RUN apt-get update \\\n  && apt-get install -y git',
    ),
  );
  assert.ok(sameInstruction(`RUN echo ${'x'.repeat(10)}…`, `RUN echo ${'x'.repeat(30)}`));
  assert.ok(!sameInstruction('RUN npm ci', 'RUN npm CI'));
  assert.ok(!sameInstruction('', 'RUN npm ci'));
  assert.equal(costText(850), '850 ms');
  assert.equal(costText(125 * MIN), '2 h 5 min');
});

test('readHistoryCost: a builder without the capability or the RPC is history unavailable; other failures are thrown', async () => {
  let calls = 0;
  const session = (caps: string[], answer: () => Promise<StepCostsResponseWire>) => ({
    hello: async () => ({ capabilities: caps }) as never,
    stepCosts: async () => {
      calls++;
      return answer();
    },
  });
  const query = { dockerfilePath: 'Dockerfile' };

  const old = await readHistoryCost(
    session([], async () => WIRE),
    query,
  );
  assert.equal(old.available, false);
  assert.equal(calls, 0, 'an older builder is not asked');

  const noHistory = await readHistoryCost(
    session([CAPABILITY_STEP_COSTS], async () => {
      throw new DepotError('unsupported', 'the builder at tcp://b:1 keeps no step costs: no history');
    }),
    query,
  );
  assert.deepEqual(noHistory, {
    available: false,
    reason: 'the builder at tcp://b:1 keeps no step costs: no history',
  });

  await assert.rejects(
    readHistoryCost(
      session([CAPABILITY_STEP_COSTS], async () => {
        throw new DepotError('unauthenticated', 'builder refused the token');
      }),
      query,
    ),
    { code: 'unauthenticated' },
  );

  const ok = await readHistoryCost(
    session([CAPABILITY_STEP_COSTS], async () => WIRE),
    query,
    { hello: { capabilities: [CAPABILITY_STEP_COSTS] } },
  );
  assert.ok(ok.available);
  assert.equal(ok.costs.steps[0]?.causedBy[0]?.installReuse?.reusable, 36);
  assert.equal(ok.costs.steps[1]?.causedBy[0]?.installReuse, undefined);
});

/** A builder that serves Hello only (as one from before StepCosts), announcing `capabilities`. */
async function olderBuilder(capabilities: string[]): Promise<{ url: string; close(): void }> {
  const server = new grpc.Server();
  const proto = loadBuilderProto();
  server.addService(proto.depot.builder.v1.Builder.service, {
    Hello: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { builderId: 'old', protocolVersion: ownProtocolVersion(), capabilities }),
  } as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { url: `tcp://127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

test('through a real session: an older builder, announcing the capability or not, gives history unavailable', async () => {
  for (const caps of [[], [CAPABILITY_STEP_COSTS]]) {
    const builder = await olderBuilder(caps);
    const session = createBuilderSession({ url: builder.url, token: 't', transport: {} });
    try {
      const got = await readHistoryCost(session, { dockerfilePath: 'Dockerfile' });
      assert.equal(got.available, false, JSON.stringify(got));
      assert.match(costLine({ instruction: 'COPY . .' }, got) ?? '', /^history unavailable: /);
      if (caps.length) assert.match(got.available ? '' : got.reason, /keeps no step costs/);
    } finally {
      session.close();
      builder.close();
    }
  }
});

test('the smart cache is credited only for installs it rewrites; others get the fix by hand', () => {
  const yarn: HistoryCost = {
    available: true,
    costs: {
      builds: 10,
      last: 50,
      moreSteps: 0,
      steps: [
        {
          instr: 'RUN yarn install --frozen-lockfile',
          runs: 10,
          misses: 6,
          rootMisses: 0,
          cascadedMisses: 6,
          costMs: 6 * MIN,
          rootCostMs: 0,
          causedBy: [
            {
              root: 'COPY . .',
              count: 6,
              costMs: 6 * MIN,
              installReuse: {
                tool: 'yarn',
                manifests: ['package.json', 'yarn.lock'],
                reusable: 5,
                reusableMs: 0,
                unknown: 0,
              },
            },
          ],
        },
      ],
    },
  };
  assert.equal(
    costLine({ instruction: 'COPY . .', affects: ['RUN yarn install --frozen-lockfile'] }, yarn),
    'invalidated RUN yarn install --frozen-lockfile in 6 of the last 10 builds: 6 min; copying package.json and yarn.lock first would have reused it in 5',
  );
  assert.ok(smartCacheTakes('RUN npm ci --omit=dev'));
  assert.ok(smartCacheTakes('RUN pip install --no-cache-dir -r requirements.txt'));
  assert.ok(smartCacheTakes('RUN  go mod download'));
  assert.ok(!smartCacheTakes('RUN npm install'));
  assert.ok(!smartCacheTakes('RUN yarn install'));
});
