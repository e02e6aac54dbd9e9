import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { destination, type Logger, pino } from 'pino';
import { createTokenStore } from './auth/index.js';
import { createDockerEngine } from './engine/index.js';
import { createBuilderServer, type TokenVerifier } from './server/index.js';
import { createStore } from './store/index.js';

/** Version of the builder-host. */
export const BUILDER_VERSION = '0.1.0';

export interface BuilderHostOptions {
  /** Docker engine: unix:///PATH or tcp://HOST:PORT */
  engine: string;
  dataDir: string;
  /** grpc-js address: "127.0.0.1:PORT" or "unix:/PATH" */
  listen: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Overrides the token file (the embedded builder uses a one-process token). */
  tokens?: TokenVerifier;
  logger?: Logger;
  id?: string;
}

export interface BuilderHost {
  id: string;
  address: string;
  close(): Promise<void>;
}

/** A JSON logger on stderr. */
export function createLogger(level = process.env.DEPOT_LOG_LEVEL || 'info'): Logger {
  return pino({ name: 'depot-builder', level }, destination(2));
}

async function builderId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'builder-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = `bld-${randomBytes(6).toString('hex')}`;
    await writeFile(file, `${id}\n`);
    return id;
  }
}

/** Starts a builder-host: store, engine driver, gRPC server. */
export async function startBuilderHost(opts: BuilderHostOptions): Promise<BuilderHost> {
  await mkdir(opts.dataDir, { recursive: true });
  const logger = opts.logger ?? createLogger();
  const id = opts.id ?? (await builderId(opts.dataDir));
  const store = await createStore(opts.dataDir);
  const engine = createDockerEngine({ host: opts.engine, cacheDir: join(opts.dataDir, 'export-cache') });
  const server = createBuilderServer({
    builderId: id,
    version: BUILDER_VERSION,
    engine,
    blobs: store.blobs,
    snapshots: store.snapshots,
    tokens: opts.tokens ?? createTokenStore(opts.dataDir),
    logger,
    memoDir: join(opts.dataDir, 'results'),
  });
  const address = await server.listen(opts.listen, opts.tls);
  logger.info({ address, id, engine: opts.engine }, 'builder-host listening');
  return { id, address, close: () => server.close() };
}
