import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  createEngineApi,
  demuxStream,
  EngineApiError,
  formatEngineEndpoint,
  lines,
  parseEngineHost,
  readBody,
} from './index.js';

class MyError extends EngineApiError {
  override name = 'MyError';
}

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('one parser for every engine address, with one error line naming the forms', () => {
  assert.deepEqual(parseEngineHost('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(parseEngineHost('/tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  assert.deepEqual(parseEngineHost('tcp://10.0.0.2:2376'), { host: '10.0.0.2', port: 2376 });
  assert.deepEqual(parseEngineHost('http://builder'), { host: 'builder', port: 2375 });
  assert.deepEqual(parseEngineHost('tcp://[::1]:2375'), { host: '::1', port: 2375 });
  assert.equal(formatEngineEndpoint(parseEngineHost('tcp://[::1]')), 'tcp://[::1]:2375');
  assert.equal(formatEngineEndpoint(parseEngineHost('/tmp/d.sock')), 'unix:///tmp/d.sock');
  for (const [bad, why] of [
    ['ssh://me@host', / \(ssh:\/\/ is not supported\)/],
    ['npipe:////./pipe/docker_engine', /npipe/],
    ['unix://relative', /must be absolute/],
    ['tcp://h:99999', /bad port/],
    ['nonsense', /"nonsense"/],
  ] as const)
    assert.throws(
      () => parseEngineHost(bad, MyError, '--engine'),
      (e: MyError) => {
        assert.ok(e instanceof MyError);
        assert.equal(e.code, 'invalid_host');
        assert.match(
          e.message,
          /^invalid --engine "[^"]*"( \([^)]*\))?: use unix:\/\/\/PATH or tcp:\/\/HOST:PORT$/,
        );
        assert.match(e.message, why);
        return true;
      },
    );
});

test('lines and demuxStream reassemble records split across chunks', async () => {
  async function* chunks(...parts: Array<string | Buffer>) {
    yield* parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
  }
  const got: string[] = [];
  for await (const l of lines(chunks('{"a":', '1}\n\n  {"b":2}\n{"c"', ':3}'))) got.push(l);
  assert.deepEqual(got, ['{"a":1}', '{"b":2}', '{"c":3}']);
  // A multi-byte character split between chunks survives.
  const euro = Buffer.from('€\n');
  const split: string[] = [];
  for await (const l of lines(chunks(euro.subarray(0, 1), euro.subarray(1)))) split.push(l);
  assert.deepEqual(split, ['€']);

  const frame = (kind: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = kind;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
  const frames: string[] = [];
  for await (const f of demuxStream(chunks(all.subarray(0, 5), all.subarray(5, 20), all.subarray(20))))
    frames.push(`${f.stream}:${f.data.toString()}`);
  assert.deepEqual(frames, ['stdout:out one\n', 'stderr:err one\n', 'stdout:out two\n']);
});

test('calls against an engine on a unix socket: JSON, allowed statuses, errors, ping, unreachable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-engine-api-'));
  dirs.push(dir);
  const sock = join(dir, 'engine.sock');
  const seen: string[] = [];
  const server = http.createServer(async (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const body = (await readBody(req)).toString();
    if (req.url === '/v1.41/_ping') res.end('OK');
    else if (req.url === '/v1.41/images/app/json') res.end(JSON.stringify({ Id: 'sha256:1', body }));
    else if (req.url === '/v1.41/containers/gone/stop') {
      res.statusCode = 304;
      res.end();
    } else {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ message: `no such thing: ${req.url}` }));
    }
  });
  await new Promise<void>((r) => server.listen(sock, r));
  try {
    const api = createEngineApi(`unix://${sock}`, { errorType: MyError, name: 'the test engine' });
    assert.equal(api.address, `unix://${sock}`);
    await api.ping();
    assert.deepEqual(
      await api.json({ method: 'POST', path: '/images/app/json', body: Buffer.from('x') }, 'inspect'),
      {
        Id: 'sha256:1',
        body: 'x',
      },
    );
    assert.equal(
      await api.json({ method: 'POST', path: '/containers/gone/stop', allow: [304] }, 'stop'),
      undefined,
    );
    assert.equal(await api.json({ method: 'GET', path: '/nothing', allow: [404] }, 'inspect'), undefined);
    await assert.rejects(
      api.json({ method: 'GET', path: '/nothing' }, 'inspect of nothing'),
      (e: MyError) => {
        assert.ok(e instanceof MyError);
        assert.equal(e.code, 'engine_error');
        assert.equal(e.message, 'inspect of nothing failed: no such thing: /v1.41/nothing');
        return true;
      },
    );
    assert.deepEqual(seen.slice(0, 2), ['GET /v1.41/_ping', 'POST /v1.41/images/app/json']);
  } finally {
    await new Promise((r) => server.close(r));
  }
  const gone = createEngineApi(`unix://${sock}`, { errorType: MyError, name: 'the test engine' });
  for (const call of [() => gone.ping(), () => gone.json({ method: 'GET', path: '/info' }, 'info')])
    await assert.rejects(call(), (e: MyError) => {
      assert.ok(e instanceof MyError);
      assert.equal(e.code, 'engine_unreachable');
      assert.match(e.message, new RegExp(`^cannot reach the test engine at unix://${sock}: \\S`));
      return true;
    });
});
