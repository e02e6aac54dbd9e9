/**
 * fsutil's Packet and Stat messages (proto/buildkit/fsutil.proto), encoded and decoded by hand:
 * a context of 20k paths is 20k STAT packets per build, and the generic protobuf path costs more
 * than the rest of serving them.
 */
import type { WireStat } from './fs-view.js';

export const PACKET_STAT = 0;
export const PACKET_REQ = 1;
export const PACKET_DATA = 2;
export const PACKET_FIN = 3;
export const PACKET_ERR = 4;

/** A decoded packet; `stat` is not decoded (the builder never receives one). */
export interface Packet {
  type: number;
  id: number;
  data: Buffer;
}

class Writer {
  private buf: Buffer;
  private pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  varint(n: number | bigint): this {
    if (typeof n === 'number' && n >= 0 && n < 0x80000000) {
      while (n >= 0x80) {
        this.buf[this.pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      this.buf[this.pos++] = n;
      return this;
    }
    // Negative int64 values are ten-byte two's complement varints.
    let b = BigInt.asUintN(64, BigInt(n));
    while (b >= 0x80n) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  bytes(field: number, b: Buffer): this {
    this.tag(field, 2).varint(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** The encoded Stat message. */
export function encodeStat(s: WireStat): Buffer {
  const path = Buffer.from(s.path);
  const link = Buffer.from(s.linkname);
  const w = new Writer(path.length + link.length + 64);
  w.bytes(1, path);
  if (s.mode) w.tag(2, 0).varint(s.mode);
  if (s.uid) w.tag(3, 0).varint(s.uid);
  if (s.gid) w.tag(4, 0).varint(s.gid);
  if (s.size) w.tag(5, 0).varint(s.size);
  if (s.modTime) w.tag(6, 0).varint(s.modTime);
  if (link.length) w.bytes(7, link);
  return w.done();
}

/** A STAT packet around an encoded Stat (an empty STAT packet when `stat` is undefined). */
export function encodeStatPacket(stat: Buffer | undefined): Buffer {
  if (!stat) return Buffer.alloc(0);
  const w = new Writer(stat.length + 8);
  return w.bytes(2, stat).done();
}

/** A DATA, FIN, REQ or ERR packet. */
export function encodePacket(type: number, id = 0, data?: Buffer): Buffer {
  const w = new Writer((data?.length ?? 0) + 24);
  if (type) w.tag(1, 0).varint(type);
  if (id) w.tag(3, 0).varint(id);
  if (data?.length) w.bytes(4, data);
  return w.done();
}

/** Decodes the fields of a packet the builder acts on (type, ID, data); skips the rest. */
export function decodePacket(buf: Buffer): Packet {
  const f = decodeFields(buf);
  const num = (n: number) => {
    const v = f.get(n);
    return typeof v === 'number' ? v : 0;
  };
  const data = f.get(4);
  return { type: num(1), id: num(3), data: Buffer.isBuffer(data) ? data : Buffer.alloc(0) };
}

/** The first value of each field of a message: varints as numbers, length-delimited as bytes. */
export function decodeFields(buf: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated packet');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) return result;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error('bad varint');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let value: number | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Error('truncated packet');
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      continue;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (!out.has(field)) out.set(field, value);
  }
  return out;
}

/** A string field of a decoded message ('' when absent). */
export function stringField(fields: Map<number, number | Buffer>, n: number): string {
  const v = fields.get(n);
  return Buffer.isBuffer(v) ? v.toString('utf8') : '';
}

/** Encodes a message of length-delimited (string / bytes) and varint fields; empty ones are left out. */
export function encodeFields(list: Array<[number, string | Buffer | number]>): Buffer {
  const parts = list.map(([n, v]) => [n, typeof v === 'string' ? Buffer.from(v) : v] as const);
  const w = new Writer(parts.reduce((a, [, v]) => a + (typeof v === 'number' ? 16 : v.length + 16), 0));
  for (const [n, v] of parts) {
    if (typeof v === 'number') {
      if (v) w.tag(n, 0).varint(v);
    } else if (v.length) w.bytes(n, v);
  }
  return w.done();
}
