import type http from 'node:http';
import { type EngineApi, errorMessage, lines, readBody } from '../../../src/engine-api/index.js';
import { registryOf, splitTagReference } from '../../../src/registry/index.js';
import { EngineError } from './types.js';

/** Docker schema 2 image manifest: what a graphdriver engine pushes. */
export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

/** Registry credentials for one push; held in memory only. */
export interface PushAuth {
  username?: string;
  password?: string;
  identityToken?: string;
  serverAddress?: string;
}

/** What a registry accepted for one tag. */
export interface PushResult {
  repository: string;
  tag: string;
  digest: string;
  size: number;
}

/** A progress line of a push worth showing (layer finished, already there, mounted). */
export type PushProgress = (text: string) => void;

const DOCKER_HUB_KEYS = [
  'https://index.docker.io/v1/',
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
];

/**
 * Picks the credentials for a registry host from a map keyed by host (or docker.io's legacy key).
 * Docker Hub answers to several names (BuildKit asks for registry-1.docker.io): any of them finds
 * the Hub's entry.
 */
export function authForHost<T>(auths: Record<string, T>, host: string): T | undefined {
  if (auths[host]) return auths[host];
  if (DOCKER_HUB_KEYS.includes(host)) for (const k of DOCKER_HUB_KEYS) if (auths[k]) return auths[k];
  for (const [k, v] of Object.entries(auths)) {
    const h = k.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
    if (h === host) return v;
  }
  return undefined;
}

/**
 * The `X-Registry-Auth` header value: URL-safe base64 (with padding, which dockerd's decoder
 * needs) of `{username, password, serveraddress, identitytoken}`.
 */
export function encodeRegistryAuth(auth: PushAuth | undefined, host: string): string {
  const json: Record<string, string> = {};
  if (auth?.username) json.username = auth.username;
  if (auth?.password) json.password = auth.password;
  if (auth?.identityToken) json.identitytoken = auth.identityToken;
  if (auth && (auth.username || auth.identityToken))
    json.serveraddress = auth.serverAddress || (host === 'docker.io' ? 'https://index.docker.io/v1/' : host);
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

interface PushLine {
  id?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/** Makes a registry's error text one clear line: denied / unreachable / other. */
export function pushError(ref: string, message: string): EngineError {
  const m = message.trim();
  if (/unauthorized|authentication required|denied|no basic auth credentials|forbidden|401|403/i.test(m)) {
    const why = /authentication required|no basic auth credentials/i.test(m)
      ? 'authentication required'
      : m.replace(/^(unauthorized|denied): /i, '');
    return new EngineError('push_denied', `push to ${ref} denied: ${why}`);
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|server gave HTTP response|EOF$/i.test(m))
    return new EngineError('registry_unreachable', `push to ${ref} failed: registry unreachable: ${m}`);
  return new EngineError('push_failed', `push to ${ref} failed: ${m}`);
}

/**
 * Decodes the JSON lines of a `POST /images/{name}/push` answer: forwards finished-layer
 * progress, fails on an in-stream error, and returns the final `aux` (tag, digest, size).
 */
export async function parsePushStream(
  input: AsyncIterable<string> | Iterable<string>,
  ref: string,
  onProgress?: PushProgress,
): Promise<{ digest: string; size: number; tag: string }> {
  let result: { digest: string; size: number; tag: string } | undefined;
  for await (const line of input) {
    let j: PushLine;
    try {
      j = JSON.parse(line) as PushLine;
    } catch {
      continue;
    }
    if (j.errorDetail || j.error) throw pushError(ref, j.errorDetail?.message || j.error || 'push failed');
    if (j.aux && typeof j.aux.Digest === 'string') {
      result = { digest: j.aux.Digest, size: j.aux.Size ?? 0, tag: j.aux.Tag ?? '' };
      continue;
    }
    if (j.status && j.id && /^(Pushed|Layer already exists|Mounted from)/.test(j.status))
      onProgress?.(`${j.id}: ${j.status}`);
  }
  if (!result) throw new EngineError('push_failed', `push to ${ref} failed: the engine reported no digest`);
  return result;
}

/** Pushes one tag of a local image through the engine. */
export async function pushTag(
  api: EngineApi,
  ref: string,
  auth: PushAuth | undefined,
  signal: AbortSignal,
  onProgress?: PushProgress,
): Promise<PushResult> {
  const { repository, tag } = splitTagReference(ref);
  const header = encodeRegistryAuth(auth, registryOf(repository));
  let res: http.IncomingMessage;
  try {
    res = await api.request({
      method: 'POST',
      path: `/images/${encodeURI(repository)}/push?${new URLSearchParams({ tag }).toString()}`,
      headers: { 'X-Registry-Auth': header },
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw new EngineError('cancelled', `push of ${ref} cancelled`, { cause: err });
    throw api.unreachable(err);
  }
  if ((res.statusCode ?? 500) >= 400)
    throw pushError(`${repository}:${tag}`, errorMessage(await readBody(res), res.statusCode));
  try {
    const r = await parsePushStream(lines(res), `${repository}:${tag}`, onProgress);
    return { repository, tag: r.tag || tag, digest: r.digest, size: r.size };
  } catch (err) {
    if (signal.aborted) throw new EngineError('cancelled', `push of ${ref} cancelled`, { cause: err });
    if (err instanceof EngineError) throw err;
    throw api.unreachable(err);
  }
}
