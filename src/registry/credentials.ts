import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DepotError } from '../errors/index.js';
import { configKeyHost, DOCKER_HUB, DOCKER_HUB_CONFIG_KEY } from './reference.js';

/** Credentials for one registry, as they travel in BuildRequest.registry_auth. */
export interface RegistryAuth {
  username: string;
  password: string;
  identityToken: string;
  serverAddress: string;
}

/** The parts of ~/.docker/config.json depot reads. */
export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Runs `docker-credential-<helper> get`; tests replace it. */
export type CredentialHelperRunner = (helper: string, serverUrl: string) => Promise<string | undefined>;

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** Reads the Docker config; an absent file is an empty config, an unreadable one an error. */
export async function loadDockerConfig(env: NodeJS.ProcessEnv = process.env): Promise<DockerConfigFile> {
  const file = dockerConfigPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new DepotError('docker_config', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch (err) {
    // V8's message may quote the start of the text, which may hold credentials: position only.
    const at = /at position \d+/.exec((err as Error).message)?.[0];
    throw new DepotError('docker_config', `invalid JSON in ${file}${at ? ` (${at})` : ''}`);
  }
}

/** The key docker uses for a registry host in config files and credential helpers. */
function configKey(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
}

/** Runs a real credential helper: host on stdin, `{ServerURL, Username, Secret}` on stdout. */
export const runCredentialHelper: CredentialHelperRunner = (helper, serverUrl) =>
  new Promise((resolve, reject) => {
    const bin = `docker-credential-${helper}`;
    const child = spawn(bin, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (errText += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new DepotError(
          'credential_helper',
          `cannot run credential helper ${bin}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : err.message}`,
          'install it or remove it from your Docker config',
        ),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = `${out}\n${errText}`;
      if (code === 0) resolve(out);
      else if (/credentials not found/i.test(text)) resolve(undefined);
      else
        reject(
          new DepotError(
            'credential_helper',
            `credential helper ${bin} failed for ${serverUrl}: ${(errText || out).trim() || `exit ${code}`}`,
          ),
        );
    });
    child.stdin.end(serverUrl);
  });

function fromHelperOutput(out: string | undefined, host: string): RegistryAuth | undefined {
  if (!out?.trim()) return undefined;
  let j: { ServerURL?: string; Username?: string; Secret?: string };
  try {
    j = JSON.parse(out) as typeof j;
  } catch {
    throw new DepotError('credential_helper', `credential helper answered for ${host} with invalid JSON`);
  }
  if (!j.Secret) return undefined;
  const serverAddress = j.ServerURL || configKey(host);
  // docker: a helper that answers the user "<token>" holds an identity token.
  if (j.Username === '<token>') return { username: '', password: '', identityToken: j.Secret, serverAddress };
  return { username: j.Username ?? '', password: j.Secret, identityToken: '', serverAddress };
}

function fromAuthsEntry(
  entry: NonNullable<DockerConfigFile['auths']>[string],
  host: string,
): RegistryAuth | undefined {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new DepotError('docker_config', `invalid "auth" for ${host} in the Docker config`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = entry.identitytoken ?? '';
  if (!username && !password && !identityToken) return undefined;
  return { username, password, identityToken, serverAddress: configKey(host) };
}

/** Every registry host the Docker config names (`auths` and `credHelpers` keys), unique. */
export function configuredRegistries(config: DockerConfigFile): string[] {
  const keys = [...Object.keys(config.auths ?? {}), ...Object.keys(config.credHelpers ?? {})];
  return [...new Set(keys.map(configKeyHost).filter(Boolean))];
}

/**
 * Credentials for each registry host (keys as given, "docker.io" for Docker Hub), found like the
 * docker CLI does: `credHelpers[host]`, else `credsStore`, else `auths` (whose keys may be URLs).
 * Hosts with no credentials are left out (anonymous).
 */
export async function credentialsFor(
  hosts: string[],
  opts: { env?: NodeJS.ProcessEnv; config?: DockerConfigFile; runHelper?: CredentialHelperRunner } = {},
): Promise<Record<string, RegistryAuth>> {
  const config = opts.config ?? (await loadDockerConfig(opts.env));
  const runHelper = opts.runHelper ?? runCredentialHelper;
  const out: Record<string, RegistryAuth> = {};
  for (const raw of new Set(hosts)) {
    const host = configKeyHost(raw);
    const key = configKey(host);
    const helper =
      Object.entries(config.credHelpers ?? {}).find(([k]) => configKeyHost(k) === host)?.[1] ??
      config.credsStore;
    let auth: RegistryAuth | undefined;
    if (helper) auth = fromHelperOutput(await runHelper(helper, key), host);
    if (!auth) {
      const entries = Object.entries(config.auths ?? {});
      const entry =
        entries.find(([k]) => k === key)?.[1] ?? entries.find(([k]) => configKeyHost(k) === host)?.[1];
      if (entry) auth = fromAuthsEntry(entry, host);
    }
    if (auth) out[raw] = auth;
  }
  return out;
}
