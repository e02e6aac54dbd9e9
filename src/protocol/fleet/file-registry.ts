import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { type FileLockFailure, withFileLock, writeFileDurably } from '../../durable-file/index.js';
import { FleetError } from './errors.js';
import { FLEET_ID_RE, type FleetRecord, parseFleetRecord } from './record.js';
import type { FleetOptions, FleetRegistry } from './registry.js';

const fileSchema = z.object({
  version: z.literal(1),
  builders: z.record(z.string(), z.unknown()),
  /** jti → ISO time of revocation */
  revoked: z.record(z.string(), z.string()).default({}),
});
type FleetFile = z.infer<typeof fileSchema>;

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !FLEET_ID_RE.test(id))
    throw new FleetError('invalid_record', `invalid ${kind} ${JSON.stringify(id)}`);
}

/**
 * A FleetRegistry in one JSON file. Readers never lock (every write is temp + rename); writers
 * take `<file>.lock` (O_EXCL; taken over from a dead holder, or after 30 s) and merge into what is on disk, so several
 * builders on one machine or a shared filesystem can register in the same file.
 */
export function createFileFleetRegistry(path: string, options: FleetOptions = {}): FleetRegistry {
  const file = path;
  const now = options.now ?? (() => new Date());
  const lockTimeoutMs = options.lockTimeoutMs ?? 5_000;
  let chain: Promise<unknown> = Promise.resolve();

  async function read(): Promise<FleetFile> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return { version: 1, builders: {}, revoked: {} };
      throw new FleetError('io_error', `reading fleet file ${file} failed`, { cause: err });
    }
    try {
      return fileSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new FleetError('fleet_corrupt', `fleet file ${file} is not valid`, {
        cause: err,
        hint: 'fix or remove it; builders re-register within one heartbeat',
      });
    }
  }

  async function write(data: FleetFile): Promise<void> {
    try {
      await writeFileDurably(file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o644 });
    } catch (err) {
      throw new FleetError('io_error', `writing fleet file ${file} failed`, { cause: err });
    }
  }

  const lockOptions = {
    timeoutMs: lockTimeoutMs,
    mode: 0o644,
    error: (f: FileLockFailure) =>
      f.kind === 'locked'
        ? new FleetError('fleet_locked', `fleet file ${file} is locked`, {
            hint: `remove ${f.lockFile} if no depot-builder is writing it`,
          })
        : new FleetError('io_error', `locking fleet file ${file} failed`, { cause: f.cause }),
  };

  // Read-modify-write under the file lock; serialised within this process too.
  function mutate<T>(fn: (data: FleetFile) => { changed: boolean; result: T }): Promise<T> {
    const run = chain.then(() =>
      withFileLock(
        file,
        async () => {
          const data = await read();
          const { changed, result } = fn(data);
          if (changed) await write(data);
          return result;
        },
        lockOptions,
      ),
    );
    chain = run.catch(() => {});
    return run;
  }

  return {
    spec: `file:${file}`,

    async register(record) {
      const rec = parseFleetRecord(record, `record of builder ${JSON.stringify(record?.id)}`);
      await mutate((data) => {
        data.builders[rec.id] = rec;
        return { changed: true, result: undefined };
      });
    },

    async heartbeat(id) {
      checkId('builder id', id);
      await mutate((data) => {
        const current = data.builders[id];
        if (!current)
          throw new FleetError('not_registered', `builder ${id} is not registered in fleet file ${file}`);
        data.builders[id] = { ...(current as object), heartbeat: now().toISOString() };
        return { changed: true, result: undefined };
      });
    },

    async deregister(id) {
      checkId('builder id', id);
      await mutate((data) => {
        if (!(id in data.builders)) return { changed: false, result: undefined };
        delete data.builders[id];
        return { changed: true, result: undefined };
      });
    },

    async list() {
      const data = await read();
      const out: FleetRecord[] = [];
      for (const [key, value] of Object.entries(data.builders)) {
        try {
          const rec = parseFleetRecord(value, `record ${JSON.stringify(key)} of fleet file ${file}`);
          if (rec.id !== key) throw new FleetError('invalid_record', `record ${key} carries id ${rec.id}`);
          out.push(rec);
        } catch (err) {
          options.onInvalidRecord?.(`${file}#${key}`, err as Error);
        }
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    async revokeToken(jti) {
      checkId('token id', jti);
      await mutate((data) => {
        if (jti in data.revoked) return { changed: false, result: undefined };
        data.revoked[jti] = now().toISOString();
        return { changed: true, result: undefined };
      });
    },

    async revokedTokens() {
      return Object.keys((await read()).revoked).sort();
    },
  };
}
