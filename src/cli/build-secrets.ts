/**
 * `--secret` and `--ssh`, docker/buildx syntax. Secret values are read once, at start, into
 * memory; they never appear in a message, a log line or the metadata file (messages name the id,
 * the file or the variable, never the value).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { DepotError } from '../session/index.js';

/** The largest secret a build may carry (BuildKit's own limit for secrets is 500 KiB). */
export const MAX_SECRET_BYTES = 500 * 1024;

const SECRET_HINT = 'use --secret id=ID[,src=PATH|env=VAR][,type=file|env]';

/** Where one `--secret` comes from. */
export interface SecretSpec {
  id: string;
  /** A file to read (resolved against the working directory), or an environment variable. */
  source: { file: string } | { env: string };
}

/** Splits a CSV line like buildx does: commas separate, double quotes group (`""` is a quote). */
export function splitCsv(value: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  if (quoted)
    throw new DepotError('invalid_flag', `invalid --secret ${JSON.stringify(value)}: unclosed quote`);
  out.push(field);
  return out;
}

/**
 * Parses one `--secret id=ID[,src=PATH|source=PATH|env=VAR][,type=file|env]`. With neither src
 * nor env, the environment variable named ID is the source (an error when it is unset); with only
 * src, id defaults to the file's base name. `type=env,src=VAR` reads the variable VAR, like buildx.
 */
export function parseSecretFlag(value: string, env: NodeJS.ProcessEnv = process.env): SecretSpec {
  const bad = (why: string) =>
    new DepotError('invalid_flag', `invalid --secret ${JSON.stringify(value)}: ${why}`, SECRET_HINT);
  let id: string | undefined;
  let src: string | undefined;
  let envName: string | undefined;
  let type: 'file' | 'env' | undefined;
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    if (eq < 0) throw bad(`${JSON.stringify(field)} is not KEY=VALUE`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const v = field.slice(eq + 1);
    const once = <T>(prev: T | undefined, next: T): T => {
      if (prev !== undefined) throw bad(`${key} given twice`);
      return next;
    };
    switch (key) {
      case 'id':
        id = once(id, v);
        break;
      case 'src':
      case 'source':
        src = once(src, v);
        break;
      case 'env':
        envName = once(envName, v);
        break;
      case 'type':
        if (v !== 'file' && v !== 'env') throw bad(`unknown type ${JSON.stringify(v)}`);
        type = once(type, v);
        break;
      default:
        throw bad(`unknown key ${JSON.stringify(key)}`);
    }
  }
  if (type === 'env' && envName === undefined && src !== undefined) {
    envName = src;
    src = undefined;
  }
  if (src !== undefined && envName !== undefined) throw bad('give src or env, not both');
  if (src === '') throw bad('empty src');
  if (envName === '') throw bad('empty env');
  if (type === 'file' && envName !== undefined) throw bad('type=file reads src=PATH, not env');
  if (type === 'env' && src !== undefined) throw bad('type=env reads env=VAR, not src');
  if (id === undefined && src !== undefined) id = basename(src);
  if (id === undefined && envName !== undefined) id = envName;
  if (!id) throw bad('missing id');
  if (id.includes('\0')) throw bad('the id may not contain NUL');
  if (src !== undefined) return { id, source: { file: src } };
  if (envName !== undefined) return { id, source: { env: envName } };
  if (type === 'file') throw bad('type=file needs src=PATH');
  // Neither: the variable named like the id.
  if (env[id] === undefined)
    throw new DepotError(
      'invalid_flag',
      `--secret id=${id}: no src or env given and the environment variable ${id} is not set`,
      `set ${id}, or pass src=PATH or env=VAR`,
    );
  return { id, source: { env: id } };
}

/**
 * Parses and reads every `--secret`, in order. Rejects duplicate ids, an unset variable, an
 * unreadable file and a value over MAX_SECRET_BYTES — before any sync or build.
 */
export async function loadSecrets(
  values: readonly string[] | undefined,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Record<string, Buffer>> {
  const env = opts.env ?? process.env;
  const out: Record<string, Buffer> = {};
  const seen = new Set<string>();
  for (const value of values ?? []) {
    const spec = parseSecretFlag(value, env);
    if (seen.has(spec.id))
      throw new DepotError('invalid_flag', `--secret id=${spec.id} is given twice`, 'give each secret once');
    seen.add(spec.id);
    let data: Buffer;
    if ('env' in spec.source) {
      const name = spec.source.env;
      const v = env[name];
      if (v === undefined)
        throw new DepotError(
          'invalid_flag',
          `--secret id=${spec.id}: the environment variable ${name} is not set`,
          `export ${name} first`,
        );
      data = Buffer.from(v, 'utf8');
    } else {
      const given = spec.source.file;
      const file = resolve(opts.cwd ?? process.cwd(), given);
      const cannot = (why: string) =>
        new DepotError('secret_unreadable', `--secret id=${spec.id}: cannot read ${given}: ${why}`);
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw cannot(st.isDirectory() ? 'it is a directory' : 'not a regular file');
        size = st.size;
      } catch (err) {
        if (err instanceof DepotError) throw err;
        throw cannot(errnoText(err));
      }
      if (size > MAX_SECRET_BYTES) throw tooBig(spec.id, size);
      try {
        data = await readFile(file);
      } catch (err) {
        throw cannot(errnoText(err));
      }
    }
    if (data.length > MAX_SECRET_BYTES) throw tooBig(spec.id, data.length);
    out[spec.id] = data;
  }
  return out;
}

function tooBig(id: string, size: number): DepotError {
  return new DepotError(
    'secret_too_large',
    `--secret id=${id} is ${Math.ceil(size / 1024)} KiB; a secret may be at most 500 KiB`,
    'pass a smaller file, or COPY large non-secret data into the image',
  );
}

/** An errno as a short phrase (never the error's full text, which is not ours to print). */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return code ?? 'unreadable';
  }
}

const SSH_HINT = 'use --ssh default or --ssh ID=SOCKET with an ssh-agent socket';
const START_AGENT = 'start one with eval "$(ssh-agent)" and ssh-add KEY';

/** One `--ssh` agent: its id and the local agent socket to relay. */
export interface SshAgentSpec {
  id: string;
  socket: string;
}

/**
 * Parses one `--ssh default|ID[=SOCKET]`: `default` or an id without a socket uses
 * $SSH_AUTH_SOCK. Only agent sockets are supported (not key files), one per id.
 */
export function parseSshFlag(value: string, env: NodeJS.ProcessEnv = process.env): SshAgentSpec {
  const eq = value.indexOf('=');
  const id = (eq < 0 ? value : value.slice(0, eq)).trim();
  const bad = (why: string) =>
    new DepotError('invalid_flag', `invalid --ssh ${JSON.stringify(value)}: ${why}`, SSH_HINT);
  if (!id) throw bad('missing id');
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw bad('the id may hold letters, digits, "_", "." and "-" only');
  if (eq >= 0) {
    const socket = value.slice(eq + 1);
    if (!socket) throw bad('empty socket path');
    if (socket.includes(','))
      throw bad('one agent socket per id (several paths or key files are not supported)');
    return { id, socket };
  }
  const sock = env.SSH_AUTH_SOCK;
  if (!sock)
    throw new DepotError(
      'ssh_agent',
      `--ssh ${id}: SSH_AUTH_SOCK is not set, so there is no ssh-agent to forward`,
      `${START_AGENT}, or pass --ssh ${id}=SOCKET`,
    );
  return { id, socket: sock };
}

/**
 * Parses every `--ssh` and checks each socket: it must exist and be a unix socket (a regular
 * file is a key, which is not supported). Returns id → absolute socket path.
 */
export async function resolveSshAgents(
  values: readonly string[] | undefined,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Record<string, string>> {
  const env = opts.env ?? process.env;
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const spec = parseSshFlag(value, env);
    if (Object.hasOwn(out, spec.id))
      throw new DepotError('invalid_flag', `--ssh ${spec.id} is given twice`, 'give each ssh id once');
    const socket = resolve(opts.cwd ?? process.cwd(), spec.socket);
    const where = spec.socket === env.SSH_AUTH_SOCK ? `${spec.socket} (SSH_AUTH_SOCK)` : spec.socket;
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(socket);
    } catch (err) {
      throw new DepotError(
        'ssh_agent',
        `--ssh ${spec.id}: cannot use ${where}: ${errnoText(err)}`,
        `is the ssh-agent running? ${START_AGENT}`,
      );
    }
    if (!st.isSocket())
      throw new DepotError(
        'ssh_agent',
        `--ssh ${spec.id}: ${where} is ${st.isFile() ? 'a regular file' : 'not a unix socket'}; only ssh-agent sockets are supported, not key files`,
        st.isFile()
          ? `load the key into an agent with ssh-add ${spec.socket} and pass --ssh ${spec.id}`
          : SSH_HINT,
      );
    out[spec.id] = socket;
  }
  return out;
}
