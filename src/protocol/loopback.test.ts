import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLocalAddress, isLoopbackHost } from './loopback.js';

test('loopback hosts are 127.0.0.0/8, ::1 and localhost; every other name or address is remote', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackHost(h), true, h);
  for (const h of [
    '0.0.0.0',
    '::',
    '[::]',
    '10.0.0.5',
    '128.0.0.1',
    'builder.internal',
    'localhost.example.com',
    'a.localhost',
    '',
  ])
    assert.equal(isLoopbackHost(h), false, h);
});

test('local gRPC addresses: unix sockets and loopback HOST:PORT', () => {
  assert.equal(isLocalAddress('unix:/run/depot.sock'), true);
  assert.equal(isLocalAddress('127.0.0.1:7000'), true);
  assert.equal(isLocalAddress('[::1]:7000'), true);
  assert.equal(isLocalAddress('localhost:0'), true);
  assert.equal(isLocalAddress('0.0.0.0:7000'), false);
  assert.equal(isLocalAddress('[::]:7000'), false);
  assert.equal(isLocalAddress('builder:7000'), false);
});
