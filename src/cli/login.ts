import { createInterface } from 'node:readline/promises';
import { createBuilderSession, DepotError } from '../session/index.js';
import { openConfig, saveToken } from './credentials.js';

/** `depot login`: checks a token against a builder, stores it, and makes that builder the default. */
export async function runLogin(opts: {
  builder?: string;
  fleet?: string;
  token?: string;
  project?: string;
}): Promise<void> {
  if (!!opts.builder === !!opts.fleet)
    throw new DepotError('invalid_flag', 'pass either --builder URL or --fleet SPEC');
  let token = opts.token || process.env.DEPOT_TOKEN;
  if (!token) {
    if (process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      token = (await rl.question('token: ')).trim();
      rl.close();
    } else {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      token = Buffer.concat(chunks).toString('utf8').trim();
    }
  }
  if (!token)
    throw new DepotError(
      'invalid_flag',
      'no token given',
      'pass --token, DEPOT_TOKEN or type it at the prompt',
    );
  if (opts.fleet) return loginFleet(opts.fleet, token, opts.project);
  const builder = opts.builder!;
  const session = createBuilderSession({
    url: builder,
    token,
    project: opts.project,
    caFile: process.env.DEPOT_TLS_CA,
  });
  try {
    const hello = await session.hello();
    const where = await saveToken(builder, token);
    const config = openConfig();
    config.set('builder', builder);
    if (opts.project) config.set('project', opts.project);
    process.stderr.write(
      `logged in to ${hello.builderId} (${hello.platforms.join(', ')}) at ${builder}; token stored in ${where}\n`,
    );
  } finally {
    session.close();
  }
}

/** A team token for a whole fleet: checked on a live builder, stored once for every builder. */
async function loginFleet(spec: string, token: string, project?: string): Promise<void> {
  const { DEFAULT_FLEET_TTL_MS, liveRecords, openFleet, resolveFleetSpec } = await import('../arch/index.js');
  const { fleetTokenKey } = await import('./targets.js');
  resolveFleetSpec({ flag: spec });
  const live = liveRecords(await openFleet(spec).list(), Date.now(), DEFAULT_FLEET_TTL_MS);
  if (live.length === 0) throw new DepotError('no_builder', `fleet ${spec} has no live builders`);
  let lastError: unknown;
  for (const rec of live) {
    const session = createBuilderSession({
      url: rec.endpoint,
      token,
      project,
      caFile: process.env.DEPOT_TLS_CA,
    });
    try {
      await session.hello();
      const where = await saveToken(fleetTokenKey(spec), token);
      const config = openConfig();
      config.set('fleet', spec);
      config.delete('builder');
      if (project) config.set('project', project);
      process.stderr.write(`logged in to fleet ${spec} (checked on ${rec.id}); token stored in ${where}\n`);
      return;
    } catch (err) {
      lastError = err;
      if ((err as DepotError).code !== 'builder_unreachable') throw err;
    } finally {
      session.close();
    }
  }
  throw lastError;
}
