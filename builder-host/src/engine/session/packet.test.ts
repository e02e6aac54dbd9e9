import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import {
  decodeFields,
  decodePacket,
  encodeFields,
  encodePacket,
  encodeStat,
  encodeStatPacket,
  PACKET_DATA,
  PACKET_REQ,
  stringField,
} from './packet.js';

// The upstream field numbers, as written in proto/buildkit: protobufjs is the oracle.
const root = protobuf.loadSync(join(import.meta.dirname, '../../../../proto/buildkit/fsutil.proto'));
const Packet = root.lookupType('fsutil.types.Packet');

test('a hand-encoded STAT packet decodes with the upstream schema', () => {
  const stat = {
    path: 'dir/ä file',
    mode: (0x80000000 | 0o755) >>> 0,
    uid: 0,
    gid: 0,
    size: 123456789012,
    modTime: 1795811565713123456n,
    linkname: 'target',
  };
  const decoded = Packet.toObject(Packet.decode(encodeStatPacket(encodeStat(stat))), { longs: String }) as {
    type?: number;
    stat: Record<string, unknown>;
  };
  assert.equal(decoded.type ?? 0, 0);
  assert.deepEqual(
    { ...decoded.stat },
    {
      path: 'dir/ä file',
      mode: stat.mode,
      size: '123456789012',
      modTime: '1795811565713123456',
      linkname: 'target',
    },
  );
  // The end-of-stats marker: a STAT packet without a stat.
  assert.equal(encodeStatPacket(undefined).length, 0);
});

test('DATA packets round-trip; REQ packets from the upstream encoder decode', () => {
  const data = Buffer.from('hello');
  const decoded = Packet.decode(encodePacket(PACKET_DATA, 7, data)) as unknown as {
    type: number;
    ID: number;
    data: Buffer;
  };
  assert.equal(decoded.type, PACKET_DATA);
  assert.equal(decoded.ID, 7);
  assert.deepEqual(Buffer.from(decoded.data), data);
  const req = Buffer.from(Packet.encode(Packet.create({ type: PACKET_REQ, ID: 300000 })).finish());
  assert.deepEqual(decodePacket(req), { type: PACKET_REQ, id: 300000, data: Buffer.alloc(0) });
  assert.throws(() => decodePacket(Buffer.from([0x08])), /truncated/);
});

test('small messages: string, bytes and varint fields', () => {
  const m = encodeFields([
    [1, 'alice'],
    [2, Buffer.from([0, 1, 2])],
    [3, 1],
    [4, ''],
  ]);
  const f = decodeFields(m);
  assert.equal(stringField(f, 1), 'alice');
  assert.deepEqual(f.get(2), Buffer.from([0, 1, 2]));
  assert.equal(f.get(3), 1);
  assert.equal(f.has(4), false);
  assert.equal(stringField(f, 9), '');
});
