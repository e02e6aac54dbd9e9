import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import Conf from 'conf';
import { writeFileDurably } from '../durable-file/index.js';

const SERVICE = 'depot';

/** Where tokens go when no secret service is available. */
export function credentialsFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'depot', 'credentials.json');
}

/** The client's settings (default builder, …), kept by `conf`. */
export function openConfig(): Conf<{ builder?: string; project?: string; fleet?: string }> {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return new Conf({ projectName: 'depot', cwd: join(base, 'depot'), configName: 'config' });
}

type Keytar = {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<Array<{ account: string; password: string }>>;
};

async function keytar(): Promise<Keytar | undefined> {
  if (process.env.DEPOT_NO_KEYCHAIN) return undefined;
  try {
    const mod = (await import('keytar' as string)) as { default?: Keytar } & Keytar;
    return mod.default ?? mod;
  } catch {
    return undefined;
  }
}

async function readFileStore(): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(credentialsFile(), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/** Stores a token for a builder; says where: the system keychain or a 0600 file (and why). */
export async function saveToken(builderUrl: string, token: string): Promise<string> {
  const kt = await keytar();
  if (kt) {
    try {
      await kt.setPassword(SERVICE, builderUrl, token);
      return 'the system keychain (Secret Service)';
    } catch {
      // No secret service on this machine (e.g. no D-Bus session): fall through to the file.
    }
  }
  const file = credentialsFile();
  const all = await readFileStore();
  all[builderUrl] = token;
  await writeFileStore(all);
  return `${file} (mode 0600; no system keychain is available${kt ? '' : ': keytar/libsecret not installed'})`;
}

/** The stored token for a builder, if any. */
export async function loadToken(builderUrl: string): Promise<string | undefined> {
  const kt = await keytar();
  if (kt) {
    try {
      const t = await kt.getPassword(SERVICE, builderUrl);
      if (t) return t;
    } catch {
      // fall back to the file
    }
  }
  return (await readFileStore())[builderUrl];
}

async function writeFileStore(all: Record<string, string>): Promise<void> {
  const file = credentialsFile();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileDurably(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600, chmod: true });
}

/** Removes the stored token of a builder (or `fleet:SPEC`); says where it was, or undefined when there was none. */
export async function deleteToken(builderUrl: string): Promise<string | undefined> {
  const where: string[] = [];
  const kt = await keytar();
  if (kt) {
    try {
      if (await kt.deletePassword(SERVICE, builderUrl)) where.push('the system keychain');
    } catch {
      // No secret service: the file is all there is.
    }
  }
  const all = await readFileStore();
  if (builderUrl in all) {
    delete all[builderUrl];
    await writeFileStore(all);
    where.push(credentialsFile());
  }
  return where.length ? where.join(' and ') : undefined;
}

/** The builders (and `fleet:SPEC`s) a token is stored for; never the tokens. */
export async function storedTokenNames(): Promise<string[]> {
  const names = new Set(Object.keys(await readFileStore()));
  const kt = await keytar();
  if (kt) {
    try {
      for (const c of await kt.findCredentials(SERVICE)) names.add(c.account);
    } catch {
      // No secret service: the file is all there is.
    }
  }
  return [...names].sort();
}
