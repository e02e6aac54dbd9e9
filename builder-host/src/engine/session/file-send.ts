/**
 * The receiving side of BuildKit's `moby.filesync.v1.FileSend/DiffCopy`: where the engine's
 * `local` and `tar` exporters send a build's result (docker build -o). Nothing is written to the
 * builder's disk: every path and byte goes to a sink (the client's Build stream), checked against
 * limits on the way.
 *
 * local: fsutil's packet stream in the other direction from FileSync — the engine sends every STAT
 * (walk order, ids by position), then an empty STAT; the receiver asks for each regular file with
 * REQ and gets DATA packets ending with an empty one; the receiver's FIN ends it (the sender
 * answers FIN). tar: BytesMessage frames (field 1) of one tar stream until the engine half-closes.
 */
import { createHash } from 'node:crypto';
import { Status, type StreamCall } from './h2-grpc.js';
import { decodeFields, encodePacket, PACKET_DATA, PACKET_ERR, PACKET_FIN, PACKET_REQ } from './packet.js';

/** One path of a local output as the sink receives it. */
export interface OutputFileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  /** mode & 07777 */
  mode: number;
  size: number;
  mtimeNs: bigint;
  link: string;
  /** The client holds this content (`have`): no data follows. */
  unchanged?: boolean;
  digest?: string;
}

export interface OutputTotals {
  files: number;
  filesUnchanged: number;
  bytes: number;
  bytesSent: number;
}

/** Where an output goes; each call resolves when the sink takes more (backpressure). */
export interface OutputSink {
  entry(e: OutputFileEntry): Promise<void>;
  data(chunk: Buffer): Promise<void>;
  /** The current file's content ended; its sha256. */
  fileEnd(digest: string): Promise<void>;
  done(totals: OutputTotals): Promise<void>;
}

export interface OutputLimits {
  /** Bytes of all files (or of the tar). */
  bytes: number;
  /** Paths of a local output. */
  files: number;
  /** Bytes of one path. */
  pathLength: number;
}

/** What the build asked for: which exporter, and what the client already has (local). */
export interface SessionOutput {
  type: 'local' | 'tar';
  /** path → digest and size of files the client's destination holds. */
  have?: ReadonlyMap<string, { digest: string; size: number }>;
  limits: OutputLimits;
  sink: OutputSink;
}

/** Files held whole to compare with the client's copy; larger ones stream through. */
const COMPARE_MAX_BYTES = 32 * 1024 * 1024;
/** Bytes per data event to the sink. */
const SINK_CHUNK = 256 * 1024;

const MODE_DIR = 0x80000000;
const MODE_SYMLINK = 0x08000000;
/** Device, named pipe, socket, char device, irregular: nothing an output may hold. */
const MODE_SPECIAL = 0x04000000 | 0x02000000 | 0x01000000 | 0x00200000 | 0x00080000;
const MODE_SETUID = 0x00800000;
const MODE_SETGID = 0x00400000;
const MODE_STICKY = 0x00100000;

/** fsutil's Stat, the fields an output needs (modTime as bigint: nanoseconds overflow a double). */
interface WireStatIn {
  path: string;
  mode: number;
  size: number;
  modTime: bigint;
  linkname: string;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated stat');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7n;
    if (shift > 70n) throw new Error('bad varint');
  }
}

/** Decodes an fsutil Stat message (xattrs and device numbers are skipped). */
export function decodeStat(buf: Buffer): WireStatIn {
  const s: WireStatIn = { path: '', mode: 0, size: 0, modTime: 0n, linkname: '' };
  let pos = 0;
  while (pos < buf.length) {
    let key: bigint;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      let v: bigint;
      [v, pos] = readVarint(buf, pos);
      if (field === 2) s.mode = Number(BigInt.asUintN(32, v));
      else if (field === 5) s.size = Number(BigInt.asIntN(64, v));
      else if (field === 6) s.modTime = BigInt.asIntN(64, v);
    } else if (wire === 2) {
      let len: bigint;
      [len, pos] = readVarint(buf, pos);
      const end = pos + Number(len);
      if (end > buf.length) throw new Error('truncated stat');
      if (field === 1) s.path = buf.toString('utf8', pos, end);
      else if (field === 7) s.linkname = buf.toString('utf8', pos, end);
      pos = end;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return s;
}

/** Why `path` may not be an output path, or undefined when it may. */
export function badOutputPath(path: string, maxLength: number): string | undefined {
  if (!path) return 'an empty path';
  if (Buffer.byteLength(path) > maxLength) return `a path longer than ${maxLength} bytes`;
  if (path.includes('\0')) return 'a path with a NUL byte';
  if (path.startsWith('/')) return `an absolute path (${JSON.stringify(path)})`;
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    return `a path that is not plain (${JSON.stringify(path.slice(0, 200))})`;
  return undefined;
}

function permBits(mode: number): number {
  let m = mode & 0o777;
  if (mode & MODE_SETUID) m |= 0o4000;
  if (mode & MODE_SETGID) m |= 0o2000;
  if (mode & MODE_STICKY) m |= 0o1000;
  return m;
}

/** The output type of an fsutil stat: dir, symlink, hard link (regular with a link name) or file. */
function kindOf(s: WireStatIn): OutputFileEntry['type'] | undefined {
  if (s.mode & MODE_DIR) return 'dir';
  if (s.mode & MODE_SYMLINK) return 'symlink';
  if (s.mode & MODE_SPECIAL) return undefined;
  return s.linkname ? 'hardlink' : 'file';
}

class OutputError extends Error {}

/** Serves one FileSend.DiffCopy of the build's output into `out.sink`. */
export function serveFileSend(call: StreamCall, out: SessionOutput, claim: () => boolean): void {
  if (!claim()) {
    call.fail(Status.FAILED_PRECONDITION, 'this build takes one output');
    return;
  }
  if (out.type === 'tar') serveTar(call, out);
  else serveLocal(call, out);
}

function serveTar(call: StreamCall, out: SessionOutput): void {
  let bytes = 0;
  let failed = false;
  // Messages are handled one at a time: the stream is paused while the sink is busy.
  let chain = Promise.resolve();
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    call.fail(Status.FAILED_PRECONDITION, err.message);
  };
  call.onMessage((m) => {
    if (failed) return;
    let data: Buffer;
    try {
      const d = decodeFields(m).get(1);
      data = Buffer.isBuffer(d) ? d : Buffer.alloc(0);
    } catch (err) {
      fail(err as Error);
      return;
    }
    bytes += data.length;
    if (bytes > out.limits.bytes) {
      fail(new OutputError(`the output is larger than this builder's limit of ${out.limits.bytes} bytes`));
      return;
    }
    if (!data.length) return;
    call.pause();
    chain = chain.then(() => out.sink.data(Buffer.from(data))).then(() => call.resume(), fail);
  });
  call.onHalfClose(() => {
    chain = chain
      .then(() => {
        if (failed) return;
        return out.sink.done({ files: 0, filesUnchanged: 0, bytes, bytesSent: bytes }).then(() => call.end());
      })
      .catch(fail);
  });
}

function serveLocal(call: StreamCall, out: SessionOutput): void {
  const { limits, sink } = out;
  const stats: WireStatIn[] = [];
  let statsDone = false;
  let finished = false;
  const totals: OutputTotals = { files: 0, filesUnchanged: 0, bytes: 0, bytesSent: 0 };
  // The file being received: its DATA packets go here.
  let current: { id: number; onData(d: Buffer): void; onEnd(): void } | undefined;
  const fail = (err: Error) => {
    if (finished) return;
    finished = true;
    // The engine shows the receiver's error as the build's.
    call.send(encodePacket(PACKET_ERR, 0, Buffer.from(err.message)));
    call.fail(Status.FAILED_PRECONDITION, err.message);
  };

  const receiveFile = (id: number, onData: (d: Buffer) => Promise<void>) =>
    new Promise<void>((resolve, reject) => {
      let chain = Promise.resolve();
      current = {
        id,
        onData(d) {
          call.pause();
          chain = chain.then(() => onData(d)).then(() => call.resume(), reject);
        },
        onEnd() {
          current = undefined;
          chain.then(resolve, reject);
        },
      };
      call.send(encodePacket(PACKET_REQ, id));
    });

  const countBytes = (n: number) => {
    totals.bytes += n;
    if (totals.bytes > limits.bytes)
      throw new OutputError(`the output is larger than this builder's limit of ${limits.bytes} bytes`);
  };

  const sendAll = async () => {
    for (let id = 0; id < stats.length && !finished; id++) {
      const s = stats[id]!;
      const type = kindOf(s)!;
      const entry: OutputFileEntry = {
        path: s.path,
        type,
        mode: type === 'symlink' ? 0o777 : permBits(s.mode),
        size: type === 'file' ? s.size : 0,
        mtimeNs: s.modTime,
        link: type === 'symlink' || type === 'hardlink' ? s.linkname : '',
      };
      if (type !== 'file') {
        await sink.entry(entry);
        continue;
      }
      totals.files++;
      const hash = createHash('sha256');
      const known = out.have?.get(s.path);
      if (known && known.size === s.size && s.size <= COMPARE_MAX_BYTES) {
        // Held whole: only a file whose content differs from the client's crosses the wire.
        const parts: Buffer[] = [];
        await receiveFile(id, async (d) => {
          countBytes(d.length);
          hash.update(d);
          parts.push(Buffer.from(d));
        });
        const digest = `sha256:${hash.digest('hex')}`;
        if (digest === known.digest) {
          totals.filesUnchanged++;
          await sink.entry({ ...entry, unchanged: true, digest });
          continue;
        }
        await sink.entry(entry);
        const all = Buffer.concat(parts);
        for (let off = 0; off < all.length; off += SINK_CHUNK) {
          const part = all.subarray(off, off + SINK_CHUNK);
          totals.bytesSent += part.length;
          await sink.data(part);
        }
        await sink.fileEnd(digest);
        continue;
      }
      await sink.entry(entry);
      // fsutil sends 32 KiB packets: gathered into larger events, the client's stream moves ~4x faster.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (!pendingBytes) return;
        const chunk = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        await sink.data(chunk);
      };
      await receiveFile(id, async (d) => {
        countBytes(d.length);
        hash.update(d);
        totals.bytesSent += d.length;
        pending.push(Buffer.from(d));
        pendingBytes += d.length;
        if (pendingBytes >= SINK_CHUNK) await flush();
      });
      await flush();
      await sink.fileEnd(`sha256:${hash.digest('hex')}`);
    }
    if (finished) return;
    await sink.done(totals);
    finished = true;
    call.send(encodePacket(PACKET_FIN));
  };

  call.onMessage((raw) => {
    try {
      const f = decodeFields(raw);
      const type = typeof f.get(1) === 'number' ? (f.get(1) as number) : 0;
      if (type === PACKET_FIN) {
        // The sender's answer to our FIN: the exchange is over.
        call.end();
        return;
      }
      if (finished) return;
      if (type === 0) {
        if (statsDone) throw new OutputError('the engine sent a stat after the last one');
        const stat = f.get(2);
        if (!Buffer.isBuffer(stat)) {
          statsDone = true;
          sendAll().catch(fail);
          return;
        }
        const s = decodeStat(stat);
        if (stats.length >= limits.files)
          throw new OutputError(`the output has more than this builder's limit of ${limits.files} files`);
        const bad = badOutputPath(s.path, limits.pathLength);
        if (bad) throw new OutputError(`the output holds ${bad}`);
        if (!kindOf(s)) throw new OutputError(`the output holds a device, pipe or socket: ${s.path}`);
        stats.push(s);
      } else if (type === PACKET_DATA) {
        const id = typeof f.get(3) === 'number' ? (f.get(3) as number) : 0;
        if (!current || current.id !== id)
          throw new OutputError(`the engine sent data for file ${id} unasked`);
        const d = f.get(4);
        if (Buffer.isBuffer(d) && d.length) current.onData(d);
        else current.onEnd();
      } else if (type === PACKET_ERR) {
        finished = true;
        call.end();
      }
    } catch (err) {
      fail(err as Error);
    }
  });
  call.onClose(() => {
    finished = true;
  });
}
