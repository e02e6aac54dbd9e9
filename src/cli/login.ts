import { createInterface } from 'node:readline/promises';
import { createBuilderSession, DepotError } from '../session/index.js';
import { openConfig, saveToken } from './credentials.js';

/** `depot login`: checks a token against a builder, stores it, and makes that builder the default. */
export async function runLogin(opts: { builder: string; token?: string; project?: string }): Promise<void> {
  let token = opts.token || process.env.DEPOT_TOKEN;
  if (!token) {
    if (process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      token = (await rl.question('token: ')).trim();
      rl.close();
    } else {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      token = Buffer.concat(chunks).toString('utf8').trim();
    }
  }
  if (!token)
    throw new DepotError(
      'invalid_flag',
      'no token given',
      'pass --token, DEPOT_TOKEN or type it at the prompt',
    );
  const session = createBuilderSession({
    url: opts.builder,
    token,
    project: opts.project,
    caFile: process.env.DEPOT_TLS_CA,
  });
  try {
    const hello = await session.hello();
    const where = await saveToken(opts.builder, token);
    const config = openConfig();
    config.set('builder', opts.builder);
    if (opts.project) config.set('project', opts.project);
    process.stderr.write(
      `logged in to ${hello.builderId} (${hello.platforms.join(', ')}) at ${opts.builder}; token stored in ${where}\n`,
    );
  } finally {
    session.close();
  }
}
