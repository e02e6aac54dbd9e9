import { parseReference } from '../registry/index.js';
import { LocalEngineError } from './errors.js';

/** Where a Docker engine listens: a unix socket, or host and port (plain HTTP). */
export interface DockerHostAddress {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** The engine address used when DOCKER_HOST is unset. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Parses a DOCKER_HOST value: `unix:///path`, `/path`, `tcp://host[:port]` (default port 2375). */
export function parseDockerHost(s: string): DockerHostAddress {
  const v = s.trim();
  if (v.startsWith('unix://')) {
    const socketPath = v.slice('unix://'.length);
    if (!socketPath.startsWith('/'))
      throw new LocalEngineError(
        'invalid_host',
        `invalid docker host ${JSON.stringify(s)}: socket path must be absolute`,
      );
    return { socketPath };
  }
  if (v.startsWith('/')) return { socketPath: v };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(v);
  if (!m) {
    const scheme = /^([a-z]+):\/\//.exec(v)?.[1];
    const why = scheme && scheme !== 'tcp' ? `: ${scheme}:// is not supported` : '';
    throw new LocalEngineError('invalid_host', `invalid docker host ${JSON.stringify(s)}${why}`);
  }
  const port = m[2] ? Number(m[2]) : 2375;
  if (port < 1 || port > 65535)
    throw new LocalEngineError('invalid_host', `invalid docker host ${JSON.stringify(s)}: bad port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Splits `name[:tag]` into repo (as written) and tag (default `latest`) with the one reference
 * parser; refuses digests and anything docker would refuse (LocalEngineError code invalid_tag).
 */
export function parseImageRef(ref: string): { repo: string; tag: string } {
  try {
    const r = parseReference(ref);
    return { repo: r.repository, tag: r.tag };
  } catch (err) {
    throw new LocalEngineError('invalid_tag', (err as Error).message, { cause: err });
  }
}
