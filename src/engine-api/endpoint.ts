import { EngineApiError, type EngineErrorType } from './errors.js';

/** Where a Docker engine listens: a unix socket, or host and port (plain HTTP). */
export interface EngineEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** The engine address used when DOCKER_HOST is unset. */
export const DEFAULT_ENGINE_HOST = 'unix:///var/run/docker.sock';

/** What every bad address is told to look like. */
export const ENGINE_HOST_FORMS = 'use unix:///PATH or tcp://HOST:PORT';

/**
 * Parses an engine address (a DOCKER_HOST value, `--engine`): `unix:///path`, `/path`,
 * `tcp://host[:port]` or `http://host[:port]` (default port 2375). Anything else throws
 * `invalid_host` (as `errorType`, default EngineApiError) with one line naming `what` was bad and
 * which forms work.
 */
export function parseEngineHost(
  s: string,
  errorType: EngineErrorType = EngineApiError,
  what = 'docker host',
): EngineEndpoint {
  const bad = (why: string) =>
    new errorType('invalid_host', `invalid ${what} ${JSON.stringify(s)}${why}: ${ENGINE_HOST_FORMS}`);
  const v = s.trim();
  if (v.startsWith('unix://')) {
    const socketPath = v.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw bad(' (the socket path must be absolute)');
    return { socketPath };
  }
  if (v.startsWith('/')) return { socketPath: v };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(v);
  if (!m) {
    const scheme = /^([a-z]+):\/\//.exec(v)?.[1];
    throw bad(scheme && scheme !== 'tcp' && scheme !== 'http' ? ` (${scheme}:// is not supported)` : '');
  }
  const port = m[2] ? Number(m[2]) : 2375;
  if (port < 1 || port > 65535) throw bad(' (bad port)');
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** An endpoint as the address messages name it: `unix:///path` or `tcp://host:port`. */
export function formatEngineEndpoint(ep: EngineEndpoint): string {
  if (ep.socketPath) return `unix://${ep.socketPath}`;
  const host = ep.host?.includes(':') ? `[${ep.host}]` : ep.host;
  return `tcp://${host}:${ep.port}`;
}
