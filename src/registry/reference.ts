import { DepotError } from '../session/index.js';

/** Docker Hub's name in references and its key in Docker config files. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** A `[HOST/]PATH[:TAG]` image reference, split the way docker does. */
export interface ImageReference {
  /** Registry host as users write it ("docker.io" for Docker Hub), e.g. "127.0.0.1:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "team/app" ("library/app" on Docker Hub). */
  path: string;
  /** The name as given without the tag, e.g. "127.0.0.1:5000/team/app". */
  repository: string;
  tag: string;
}

/** The registry host of a repository name ("docker.io" when the first part is not a host). */
export function registryOf(repository: string): string {
  const slash = repository.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = repository.slice(0, slash);
  if (!(first.includes('.') || first.includes(':') || first === 'localhost')) return DOCKER_HUB;
  return first === 'index.docker.io' || first === 'registry-1.docker.io' ? DOCKER_HUB : first;
}

/** Parses a tag reference; digests (`@sha256:`) are not accepted. */
export function parseReference(ref: string): ImageReference {
  if (!ref || ref.includes('@') || /\s/.test(ref))
    throw new DepotError('invalid_tag', `invalid image reference ${JSON.stringify(ref)}`);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const [repository, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  if (!tag || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))
    throw new DepotError('invalid_tag', `invalid tag in ${JSON.stringify(ref)}`);
  const registry = registryOf(repository);
  let path = repository;
  if (repository.startsWith(`${registry}/`)) path = repository.slice(registry.length + 1);
  else if (registry === DOCKER_HUB)
    path = repository.replace(/^(index\.docker\.io|registry-1\.docker\.io)\//, '');
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { registry, path, repository, tag };
}

/** Reduces a Docker config key ("https://host/v1/", "http://host", "host") to its host. */
export function configKeyHost(key: string): string {
  const h = key
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '');
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? DOCKER_HUB : h;
}

/** Registries reached over plain HTTP: loopback, and those in DEPOT_INSECURE_REGISTRIES (comma list). */
export function isInsecureRegistry(host: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name)) return true;
  const list = (env.DEPOT_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.includes(host) || list.includes(name);
}

/** Base URL of a registry's HTTP API v2 endpoint host. */
export function registryBaseUrl(host: string, env: NodeJS.ProcessEnv = process.env): string {
  if (host === DOCKER_HUB) return 'https://registry-1.docker.io';
  return `${isInsecureRegistry(host, env) ? 'http' : 'https'}://${host}`;
}
