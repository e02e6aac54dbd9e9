import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { startBuilderHost } from '../../builder-host/src/host.js';
import { createLocalEngine } from '../docker/index.js';
import { DepotError } from '../session/index.js';

/** Runs a builder-host inside this process against the local engine, on a private socket. */
export async function startEmbeddedBuilder(): Promise<{
  url: string;
  token: string;
  close(): Promise<void>;
}> {
  // DOCKER_HOST (else the default socket) through the one engine address parser: a bad value is
  // a LocalEngineError('invalid_host') saying which forms work.
  const local = createLocalEngine();
  const engine = local.host;
  try {
    await local.ping();
  } catch (err) {
    throw new DepotError(
      'engine_unreachable',
      `cannot reach the local Docker engine at ${engine}`,
      'start Docker (or set DOCKER_HOST), or pass --builder URL to use a remote builder',
      { cause: err },
    );
  }
  const dataDir = join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'depot', 'embedded');
  const sock = join(tmpdir(), `depot-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const token = randomBytes(24).toString('base64url');
  const user = userInfo().username;
  const level = process.env.DEPOT_LOG_LEVEL || 'silent';
  const host = await startBuilderHost({
    engine,
    dataDir,
    listen: `unix:${sock}`,
    // The developer's own engine: whether it runs other platforms is up to its qemu binfmt, which
    // the client cannot see, so the build is tried there as `docker build --platform` would be.
    emulated: ['*'],
    // The developer's own engine: `-t app` names `app` there, as docker build does.
    ownEngine: true,
    // … and what its owner's docker build may do, depot build may do there too.
    allowNetworkHost: true,
    logger: pino({ name: 'depot-builder', level }, destination(2)),
    tokens: {
      async verify(t) {
        return t === token
          ? { id: 'embedded', project: '*', user, createdAt: '', revoked: false }
          : undefined;
      },
    },
  });
  const cleanup = () => rmSync(sock, { force: true });
  process.once('exit', cleanup);
  return {
    url: `unix://${sock}`,
    token,
    async close() {
      await host.close();
      cleanup();
    },
  };
}
