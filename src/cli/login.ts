import { createBuilderSession, DepotError, validateBuilderUrl } from '../session/index.js';
import { deleteToken, openConfig, saveToken } from './credentials.js';
import { readSecretFromTty } from './secret-input.js';

/** A token the builder refused, said as such: `depot login` is what the user is running already. */
function refused(err: unknown, where: string): unknown {
  if ((err as DepotError)?.code !== 'unauthenticated') return err;
  return new DepotError(
    'unauthenticated',
    `${where} refused the token`,
    'check it, or create one on the builder with `depot-builder token create --project NAME`',
    { cause: err },
  );
}

/** `depot login`: checks a token against a builder, stores it, and makes that builder the default. */
export async function runLogin(opts: {
  builder?: string;
  fleet?: string;
  token?: string;
  project?: string;
}): Promise<void> {
  if (!!opts.builder === !!opts.fleet)
    throw new DepotError('invalid_flag', 'pass either --builder URL or --fleet SPEC');
  // A mistyped address fails here, before a token is asked for.
  if (opts.builder) validateBuilderUrl(opts.builder);
  else await import('../arch/index.js').then((a) => a.resolveFleetSpec({ flag: opts.fleet }));
  let token = opts.token || process.env.DEPOT_TOKEN;
  if (!token) {
    if (process.stdin.isTTY) {
      // Typed without echo: a token on screen ends up in scrollback and screen shares.
      token = (await readSecretFromTty('token: ')).trim();
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
  const builder = validateBuilderUrl(opts.builder!);
  const session = createBuilderSession({
    url: builder,
    token,
    project: opts.project,
  });
  try {
    const hello = await session.hello().catch((err: unknown) => {
      throw refused(err, `builder ${builder}`);
    });
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
      if ((err as DepotError).code !== 'builder_unreachable')
        throw refused(err, `fleet ${spec} (builder ${rec.id})`);
    } finally {
      session.close();
    }
  }
  throw lastError;
}

/** `depot logout`: removes the stored token of a builder, a fleet, or else the default one. */
export async function runLogout(opts: { builder?: string; fleet?: string }): Promise<void> {
  if (opts.builder && opts.fleet)
    throw new DepotError('invalid_flag', 'pass either --builder URL or --fleet SPEC, not both');
  const { fleetTokenKey } = await import('./targets.js');
  const config = openConfig();
  let key: string;
  let what: string;
  if (opts.fleet) {
    key = fleetTokenKey(opts.fleet);
    what = `fleet ${opts.fleet}`;
  } else {
    const builder = opts.builder ? validateBuilderUrl(opts.builder) : config.get('builder');
    const fleet = config.get('fleet');
    if (builder) {
      key = builder;
      what = `builder ${builder}`;
    } else if (fleet) {
      key = fleetTokenKey(fleet);
      what = `fleet ${fleet}`;
    } else
      throw new DepotError(
        'invalid_flag',
        'no default builder or fleet to log out of',
        'pass --builder URL or --fleet SPEC',
      );
  }
  const where = await deleteToken(key);
  process.stderr.write(
    where ? `removed the token for ${what} from ${where}\n` : `no token stored for ${what}\n`,
  );
}
