import { DepotError } from '../errors/index.js';

/** Docker Hub's name in references and its key in Docker config files. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** The longest repository name distribution accepts (domain and path together). */
export const NAME_TOTAL_LENGTH_MAX = 255;

/*
 * The grammar of github.com/distribution/reference (regexp.go), the one docker and BuildKit use:
 *   reference   := name [ ":" tag ] [ "@" digest ]
 *   name        := [domain "/"] path-component ["/" path-component]*
 *   domain      := (domain-name | "[" ipv6 "]") [":" port]
 *   path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
 *   tag         := [\w][\w.-]{0,127}
 *   digest      := algorithm ":" hex{32,}
 */
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME = new RegExp(`^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
/** Hex lengths of the digest algorithms go-digest knows; any other algorithm is refused. */
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** A reference that is not one docker would accept; code 'invalid_reference'. */
export class InvalidReferenceError extends DepotError {
  constructor(ref: string, why: string, hint?: string) {
    super('invalid_reference', `${why}: ${ref}`, hint);
    this.name = 'InvalidReferenceError';
  }
}

/** An image reference, parsed and normalised exactly as docker does (`ParseNormalizedNamed`). */
export interface ImageReference {
  /** Registry host as users write it ("docker.io" for Docker Hub), e.g. "127.0.0.1:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "team/app" ("library/app" on Docker Hub). */
  path: string;
  /** The name as given without tag or digest, e.g. "127.0.0.1:5000/team/app" or "app". */
  repository: string;
  /** The tag; "latest" when neither tag nor digest was given, '' when only a digest was. */
  tag: string;
  /** e.g. "sha256:…", or '' */
  digest: string;
}

/** The registry host of a repository name ("docker.io" when the first part is not a host), as docker splits it. */
export function registryOf(repository: string): string {
  return splitDockerDomain(repository).domain;
}

/** distribution's splitDockerDomain: a first component is a host when it has '.' or ':', is localhost, or has uppercase. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DOCKER_HUB;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === 'index.docker.io' || domain === 'registry-1.docker.io') domain = DOCKER_HUB;
  if (domain === DOCKER_HUB && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { domain, remainder };
}

const FORMAT_HINT = 'use [HOST[:PORT]/]NAME[:TAG]: lowercase name, tag of letters, digits, _ . -';

/**
 * Parses an image reference exactly like docker (`reference.ParseNormalizedNamed`): the same
 * grammar, the same 255-character name limit, uppercase repository names refused, Docker Hub
 * names normalised (`app` → docker.io/library/app). Digests are refused unless `allowDigest`.
 * Throws InvalidReferenceError with docker's wording ("invalid reference format", …).
 */
export function parseReference(ref: string, opts: { allowDigest?: boolean } = {}): ImageReference {
  if (typeof ref !== 'string' || ref === '')
    throw new InvalidReferenceError(JSON.stringify(ref ?? ''), 'invalid reference format', FORMAT_HINT);
  if (IDENTIFIER.test(ref))
    throw new InvalidReferenceError(
      ref,
      'invalid repository name, cannot specify 64-byte hexadecimal strings',
      'an image id is not a name',
    );
  const { domain, remainder } = splitDockerDomain(ref);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName)
    throw new InvalidReferenceError(
      ref,
      'invalid reference format: repository name must be lowercase',
      'use a lowercase name',
    );
  const full = `${domain}/${remainder}`;
  const m = REFERENCE.exec(full);
  if (!m) throw new InvalidReferenceError(ref, 'invalid reference format', FORMAT_HINT);
  const name = m[1]!;
  const path = ANCHORED_NAME.exec(name)?.[2] ?? name;
  const digest = m[3] ?? '';
  // The name as given: the input minus its tag and digest (the normalised one is registry/path).
  const given = ref.slice(0, ref.length - (digest ? digest.length + 1 : 0) - (m[2] ? m[2].length + 1 : 0));
  // The limit applies to the name as written (Docker Hub's implied docker.io/library/ aside).
  if (given.length > NAME_TOTAL_LENGTH_MAX || path.length > NAME_TOTAL_LENGTH_MAX)
    throw new InvalidReferenceError(
      ref,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
      'use a shorter name',
    );
  if (digest) {
    const [algorithm, hex] = digest.split(':') as [string, string];
    const want = DIGEST_HEX_LENGTH[algorithm];
    if (want === undefined)
      throw new InvalidReferenceError(ref, 'unsupported digest algorithm', 'use sha256:HEX');
    if (hex.length !== want) throw new InvalidReferenceError(ref, 'invalid checksum digest length');
    if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidReferenceError(ref, 'invalid checksum digest format');
    if (!opts.allowDigest)
      throw new InvalidReferenceError(ref, 'a digest cannot be used as a tag', 'use NAME[:TAG]');
  }
  return {
    registry: domain,
    path,
    repository: given,
    tag: m[2] ?? (digest ? '' : 'latest'),
    digest,
  };
}

/** The reference's familiar `name:tag` form for the engine's tag API: repository as given, and its tag. */
export function splitTagReference(ref: string): { repository: string; tag: string } {
  const r = parseReference(ref);
  return { repository: r.repository, tag: r.tag };
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
