// Secrets and registry credentials belong to one build: another project's build on the same builder,
// at the same time or later, gets neither (real builder, real dockerd, real htpasswd registry).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type BuilderProcess,
  buildOn,
  depot,
  registry,
  skipReason,
  startBuilder,
  tempDir,
} from '../integration/harness.js';

const skip = skipReason();
const PASSWORD = `pw-${process.pid}-Qz7w`;

describe('secrets and registry credentials stay with their build', { skip }, () => {
  let builder: BuilderProcess;
  let authReg = '';
  const regName = `secrets-${process.pid}`;
  const withCreds = tempDir('sec-cfg');
  const noCreds = tempDir('sec-nocfg');
  const nonce = randomUUID();
  const as = (project: string) => {
    const token = builder.token(project, project);
    return (args: string[], env: Record<string, string> = {}) =>
      depot([...buildOn(builder.url, token, project), ...args], { DOCKER_CONFIG: noCreds, ...env });
  };

  before(async () => {
    builder = await startBuilder();
    authReg = registry('start', regName, ['--htpasswd', `alice:${PASSWORD}`]);
    mkdirSync(withCreds, { recursive: true });
    writeFileSync(
      join(withCreds, 'config.json'),
      JSON.stringify({ auths: { [authReg]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }),
    );
    writeFileSync(join(noCreds, 'config.json'), '{}');
  });
  after(async () => {
    await builder?.stop();
    try {
      registry('stop', regName);
    } catch {
      // already gone
    }
  });

  test("a --secret of one project's build is not served to another project's build at the same time", async () => {
    const value = `b-secret-${nonce}`;
    const bCtx = tempDir('sec-b');
    writeFileSync(
      join(bCtx, 'Dockerfile'),
      `FROM busybox:latest\nRUN --mount=type=secret,id=tok sh -c 'sleep 3; test "$(cat /run/secrets/tok)" = "${value}" && echo b-${nonce}'\n`,
    );
    const aCtx = tempDir('sec-a');
    writeFileSync(
      join(aCtx, 'Dockerfile'),
      `FROM busybox:latest\nRUN --mount=type=secret,id=tok cat /run/secrets/tok && echo a-${nonce}\n`,
    );
    const b = as('sec-b')(['--secret', 'id=tok,env=TOK', bCtx], { TOK: value });
    await new Promise((r) => setTimeout(r, 1000));
    const a = await as('sec-a')([aCtx]);
    const bDone = await b;
    assert.equal(bDone.code, 0, bDone.stderr);
    assert.notEqual(a.code, 0, 'the other project read a secret it never sent');
    assert.ok(!`${a.stdout}${a.stderr}`.includes(value));
  });

  test('a private base image one project pulled with its credentials is not served to another project without them', async () => {
    const base = `${authReg}/private/base:${process.pid}`;
    const baseCtx = tempDir('sec-base');
    writeFileSync(
      join(baseCtx, 'Dockerfile'),
      `FROM busybox:latest\nRUN echo private-${nonce} > /private.txt\n`,
    );
    const b = as('sec-owner');
    const pushed = await b(['-t', base, '--push', baseCtx], { DOCKER_CONFIG: withCreds });
    assert.equal(pushed.code, 0, pushed.stderr);
    const fromCtx = tempDir('sec-from');
    writeFileSync(join(fromCtx, 'Dockerfile'), `FROM ${base}\nRUN cat /private.txt\n`);
    const owner = await b(['--pull', fromCtx], { DOCKER_CONFIG: withCreds });
    assert.equal(owner.code, 0, owner.stderr);
    for (const extra of [[], ['--pull']]) {
      const other = await as('sec-other')([...extra, fromCtx]);
      assert.notEqual(other.code, 0, `${extra.join(' ')}: built FROM another project's private image`);
      assert.ok(!`${other.stdout}${other.stderr}`.includes(`private-${nonce}`));
    }
  });
});
