import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GrpcError, Status, serveConnection } from './h2-grpc.js';

// grpc-js as the client: a second implementation of the protocol checks this one.
const id = (b: Buffer) => b;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: id,
  requestDeserialize: id,
  responseSerialize: id,
  responseDeserialize: id,
});
const service = {
  Echo: method('/t.T/Echo', false, false),
  Fail: method('/t.T/Fail', false, false),
  Missing: method('/t.T/Missing', false, false),
  Chat: method('/t.T/Chat', true, true),
} as unknown as grpc.ServiceDefinition;

let server: net.Server;
// biome-ignore lint/suspicious/noExplicitAny: generic client
let client: any;

before(async () => {
  server = net.createServer((socket) =>
    serveConnection(socket, {
      unary: {
        '/t.T/Echo': async (req, md) => Buffer.concat([Buffer.from(`${md.get('x-who')?.[0]}:`), req]),
        '/t.T/Fail': async () => {
          throw new GrpcError(Status.NOT_FOUND, 'secret npm not found: ünïcode');
        },
      },
      stream: {
        '/t.T/Chat': (call) => {
          call.onMessage((m) => {
            if (m.toString() === 'bye') call.end();
            // Several messages in one write.
            else call.send(m, Buffer.from(m.toString().toUpperCase()));
          });
        },
      },
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const Client = grpc.makeGenericClientConstructor(service, 'T');
  client = new Client(
    `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    grpc.credentials.createInsecure(),
  );
});
after(() => {
  client.close();
  server.close();
});

test('unary calls: answer, metadata, error status with message, unknown method', async () => {
  const md = new grpc.Metadata();
  md.set('x-who', 'bk');
  const res = await new Promise<Buffer>((ok, ko) =>
    client.Echo(Buffer.from('hi'), md, (e: Error, r: Buffer) => (e ? ko(e) : ok(r))),
  );
  assert.equal(res.toString(), 'bk:hi');
  const err = await new Promise<grpc.ServiceError>((ok) =>
    client.Fail(Buffer.alloc(0), (e: grpc.ServiceError) => ok(e)),
  );
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.equal(err.details, 'secret npm not found: ünïcode');
  const missing = await new Promise<grpc.ServiceError>((ok) =>
    client.Missing(Buffer.alloc(0), (e: grpc.ServiceError) => ok(e)),
  );
  assert.equal(missing.code, grpc.status.UNIMPLEMENTED);
});

test('a bidirectional stream: batched messages arrive one by one, then OK', async () => {
  const call = client.Chat();
  const got: string[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on('data', (m: Buffer) => got.push(m.toString()));
    call.on('end', resolve);
    call.on('error', reject);
  });
  call.write(Buffer.from('a'));
  call.write(Buffer.from('b'));
  call.write(Buffer.from('bye'));
  await ended;
  assert.deepEqual(got, ['a', 'A', 'b', 'B']);
});
