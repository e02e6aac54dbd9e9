import { createHash } from 'node:crypto';
import { DepotError } from '../errors/index.js';
import type { RegistryAuth } from './credentials.js';
import { registryBaseUrl } from './reference.js';

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). */
export function parseAuthenticate(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!))
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

/** A manifest as the registry served it. */
export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

/** Talks to one registry's HTTP API v2 with anonymous, Basic or Bearer-token auth. */
export interface RegistryClient {
  readonly host: string;
  getManifest(path: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest | undefined>;
  /** PUTs a manifest under a tag (or digest); returns the digest the registry answered. */
  putManifest(
    path: string,
    reference: string,
    mediaType: string,
    body: Buffer,
    signal?: AbortSignal,
  ): Promise<string>;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

export function sha256Digest(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

const DIGEST = /^(sha256|sha512):([0-9a-f]+)$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

/** Whether a manifest reference is a digest (`sha256:…`) rather than a tag (a tag has no colon). */
export function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

/**
 * Checks that `body` hashes to `expected` and returns that digest. Content from a registry is
 * only ever named by a digest depot computed itself: a registry (or anything between) that sends
 * other bytes than the digest it claims gets `registry_digest_mismatch`; a digest depot cannot
 * compute (unknown algorithm, malformed) gets `registry_digest_invalid`.
 */
export function verifyDigest(body: Buffer, expected: string, what: string): string {
  const m = DIGEST.exec(expected);
  if (!m || m[2]!.length !== DIGEST_HEX_LENGTH[m[1]!])
    throw new DepotError(
      'registry_digest_invalid',
      `${what} failed: the registry named the content by ${JSON.stringify(expected.slice(0, 140))}, which is not a sha256 or sha512 digest`,
    );
  const actual = `${m[1]}:${createHash(m[1]!).update(body).digest('hex')}`;
  if (actual !== expected)
    throw new DepotError(
      'registry_digest_mismatch',
      `${what} failed: the registry sent content whose digest is ${actual}, not ${expected}`,
      'the registry, or a proxy in front of it, altered the content; check the registry and try again',
    );
  return expected;
}

/** The first `errors[].message` of a registry error body, else the text. */
function registryMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const e = j.errors?.[0];
    if (e?.message) return e.message;
    if (e?.code) return e.code.toLowerCase();
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300);
}

function causeText(err: unknown): string {
  const c = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (c?.message) return c.message;
  return err instanceof Error ? err.message : String(err);
}

export interface RegistryClientOptions {
  host: string;
  auth?: RegistryAuth;
  env?: NodeJS.ProcessEnv;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

/** Creates a client for one registry host; tokens are cached per scope for its lifetime. */
export function createRegistryClient(opts: RegistryClientOptions): RegistryClient {
  const base = registryBaseUrl(opts.host, opts.env);
  const auth = opts.auth;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  /** cache key (repository path) → Authorization header that was issued for it; a push token also pulls */
  const authorization = new Map<string, string>();
  const basic = () =>
    auth?.username || auth?.password
      ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
      : undefined;

  async function send(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: Buffer | string },
    what: string,
    signal?: AbortSignal,
  ): Promise<Response> {
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    try {
      return await fetch(url, { ...init, signal: AbortSignal.any(signals), redirect: 'follow' });
    } catch (err) {
      if (signal?.aborted) throw new DepotError('cancelled', `${what} cancelled`);
      throw new DepotError(
        'registry_unreachable',
        `${what} failed: cannot reach registry ${opts.host}: ${causeText(err)}`,
        'check the registry address and that it is running',
        { cause: err },
      );
    }
  }

  async function fetchToken(ch: AuthChallenge, scope: string, what: string, signal?: AbortSignal) {
    const realm = ch.params.realm;
    if (!realm) throw new DepotError('registry_error', `${what} failed: token challenge without a realm`);
    const service = ch.params.service ?? '';
    const sc = ch.params.scope || scope;
    let res: Response;
    if (auth?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: auth.identityToken,
        service,
        scope: sc,
        client_id: 'depot',
      });
      res = await send(
        realm,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        },
        what,
        signal,
      );
    } else {
      const u = new URL(realm);
      if (service) u.searchParams.set('service', service);
      for (const s of sc.split(' ').filter(Boolean)) u.searchParams.append('scope', s);
      const b = basic();
      res = await send(u.toString(), { method: 'GET', headers: b ? { Authorization: b } : {} }, what, signal);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new DepotError(
        'push_denied',
        `${what} denied: ${registryMessage(text) || 'authentication required'}`,
        auth ? 'check the credentials in your Docker config' : 'run `docker login`',
      );
    if (!res.ok)
      throw new DepotError('registry_error', `${what} failed: token server answered HTTP ${res.status}`);
    const j = JSON.parse(text) as { token?: string; access_token?: string };
    const token = j.token || j.access_token;
    if (!token) throw new DepotError('registry_error', `${what} failed: token server sent no token`);
    return `Bearer ${token}`;
  }

  /** Sends a request, answering a 401 challenge once (Basic or Bearer token flow). */
  async function request(
    method: string,
    urlPath: string,
    scope: string,
    cacheKey: string,
    what: string,
    headers: Record<string, string>,
    body?: Buffer,
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = `${base}${urlPath}`;
    const known = authorization.get(cacheKey);
    let res = await send(
      url,
      { method, headers: { ...headers, ...(known ? { Authorization: known } : {}) }, body },
      what,
      signal,
    );
    if (res.status !== 401) return res;
    const ch = parseAuthenticate(res.headers.get('www-authenticate') ?? '');
    const text = await res.text();
    let header: string | undefined;
    if (ch?.scheme === 'bearer') header = await fetchToken(ch, scope, what, signal);
    else if (ch?.scheme === 'basic') header = basic();
    if (!header || (ch?.scheme === 'basic' && header === known))
      throw new DepotError(
        'push_denied',
        `${what} denied: ${registryMessage(text) || 'authentication required'}`,
        auth ? 'check the credentials in your Docker config' : `run \`docker login ${opts.host}\``,
      );
    authorization.set(cacheKey, header);
    res = await send(url, { method, headers: { ...headers, Authorization: header }, body }, what, signal);
    if (res.status === 401)
      throw new DepotError(
        'push_denied',
        `${what} denied: ${registryMessage(await res.text()) || 'authentication required'}`,
        'check the credentials in your Docker config',
      );
    return res;
  }

  return {
    host: opts.host,
    async getManifest(path, reference, signal) {
      const what = `fetching ${opts.host}/${path}:${reference}`;
      const res = await request(
        'GET',
        `/v2/${path}/manifests/${reference}`,
        `repository:${path}:pull`,
        path,
        what,
        { Accept: MANIFEST_ACCEPT.join(', ') },
        undefined,
        signal,
      );
      if (res.status === 404) {
        await res.arrayBuffer();
        return undefined;
      }
      const body = Buffer.from(await res.arrayBuffer());
      if (!res.ok)
        throw new DepotError(
          res.status === 403 ? 'push_denied' : 'registry_error',
          `${what} failed: HTTP ${res.status}: ${registryMessage(body.toString('utf8'))}`,
        );
      // By digest, the body must be that digest; by tag, it must be the digest the registry
      // claims for the tag (the header is what `docker pull` would pin), else the one we compute.
      const claimed = isDigestReference(reference) ? reference : res.headers.get('docker-content-digest');
      return {
        mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(),
        digest: claimed ? verifyDigest(body, claimed, what) : sha256Digest(body),
        body,
      };
    },
    async putManifest(path, reference, mediaType, body, signal) {
      const what = `push to ${opts.host}/${path}:${reference}`;
      const res = await request(
        'PUT',
        `/v2/${path}/manifests/${reference}`,
        `repository:${path}:pull,push`,
        path,
        what,
        { 'Content-Type': mediaType },
        body,
        signal,
      );
      const text = await res.text();
      if (res.status === 403)
        throw new DepotError('push_denied', `${what} denied: ${registryMessage(text) || 'forbidden'}`);
      if (!res.ok)
        throw new DepotError('push_failed', `${what} failed: HTTP ${res.status}: ${registryMessage(text)}`);
      // The digest of what we sent is known; a registry that claims another stored something else.
      const digest = sha256Digest(body);
      const claimed = res.headers.get('docker-content-digest');
      if (claimed && claimed !== digest)
        throw new DepotError(
          'registry_digest_mismatch',
          `${what} failed: the registry stored the manifest as ${claimed}, but its digest is ${digest}`,
          'the registry, or a proxy in front of it, altered the content; check the registry and try again',
        );
      return digest;
    },
  };
}
