/**
 * `depot dev --run "ARGS"`: runs each new image as a container on the local engine, replacing the
 * previous one, and follows its logs. Containers start through the docker CLI (so every
 * `docker run` flag works as the user knows it); logs and exit codes come from the Engine API.
 * The session owns its container by label: it replaces any container of the same owner when it
 * starts one (one left by a killed session included) and removes it when the session ends.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type LocalEngine, localEngineApi } from '../docker/index.js';
import { demuxStream, type EngineApi } from '../engine-api/index.js';
import { DepotError } from '../session/index.js';
import type { ContainerRunner } from './ports.js';

/** The label every container started by `depot dev` carries. */
export const DEV_LABEL = 'depot.dev';
/** The label naming which dev session identity (context, project, tags) owns a container. */
export const OWNER_LABEL = 'dev.depot.owner';

/**
 * The owner value of a dev session: the same context directory, project and tags give the same
 * value, so a new session finds (and replaces) what an earlier one left behind.
 */
export function devOwner(contextDir: string, project: string, tags: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([contextDir, project, [...tags].sort()]))
    .digest('hex')
    .slice(0, 16);
}

/** The docker CLI: the system one when present (the one on PATH may be another build), else PATH. */
export function dockerCli(): string {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/**
 * Splits a string into words like a POSIX shell does, without expansions: whitespace separates,
 * '…' is literal, "…" honours \\ \" \$ \` and line continuations, a backslash outside quotes
 * escapes the next character. Throws DepotError('invalid_flag') on an unterminated quote.
 */
export function parseShellWords(input: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const bad = (why: string) =>
    new DepotError('invalid_flag', `invalid --run ${JSON.stringify(input)}: ${why}`, 'quote like a shell');
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw bad('unterminated single quote');
      word += input.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= input.length) throw bad('unterminated double quote');
        const d = input[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < input.length) {
          const n = input[i + 1]!;
          if (n === '\n') i += 2;
          else if (n === '"' || n === '\\' || n === '$' || n === '`') {
            word += n;
            i += 2;
          } else {
            word += d;
            i++;
          }
          continue;
        }
        word += d;
        i++;
      }
    } else if (c === '\\') {
      if (i + 1 >= input.length) throw bad('trailing backslash');
      const n = input[i + 1]!;
      if (n !== '\n') {
        word += n;
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * Splits `--run` words into `docker run` options (before the image) and a command (after it):
 * everything goes before the image, and a `--` starts the command.
 */
export function splitRunArgs(words: string[]): { options: string[]; command: string[] } {
  const dd = words.indexOf('--');
  return dd < 0
    ? { options: words, command: [] }
    : { options: words.slice(0, dd), command: words.slice(dd + 1) };
}

/** The full `docker run` argument list for one image. */
export function dockerRunArgs(runArgs: string, imageId: string, name?: string, owner?: string): string[] {
  const { options, command } = splitRunArgs(parseShellWords(runArgs));
  return [
    'run',
    '-d',
    '--label',
    `${DEV_LABEL}=1`,
    ...(owner ? ['--label', `${OWNER_LABEL}=${owner}`] : []),
    ...(name ? ['--name', name] : []),
    ...options,
    imageId,
    ...command,
  ];
}

export interface ContainerRunnerOptions {
  /** The local engine, or its DOCKER_HOST value. */
  engine: LocalEngine | string;
  /** The `--run` string: `docker run` flags, optionally `-- CMD ARGS…`. */
  runArgs: string;
  /** Container name; docker picks one when absent. */
  name?: string;
  /** Seconds a container gets to stop before it is killed; default 5 (2 when the session ends). */
  stopTimeoutSec?: number;
  /** The session's owner label value (see devOwner): its containers are replaced and removed. */
  owner?: string;
}

/**
 * docker's error output as one message: every line but the `See 'docker run --help'.` advice,
 * without the `docker: ` prefix (the cause, e.g. "port is already allocated", is often last).
 */
export function dockerErrorText(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See 'docker .*--help'\.?$/.test(l) && !/^Run 'docker .*--help'/.test(l))
    .map((l) => l.replace(/^docker: /, ''))
    .join(' ');
}

/** The Engine API calls the runner makes on containers (logs and waits have no timeout). */
function containerApi(api: EngineApi) {
  const path = (id: string, tail: string) => `/containers/${encodeURIComponent(id)}${tail}`;
  return {
    // 304: already stopped; 404: already gone (e.g. --rm).
    stop: (id: string, t: number) =>
      api.json(
        { method: 'POST', path: path(id, `/stop?t=${t}`), timeoutMs: (t + 30) * 1000, allow: [304, 404] },
        `stop of container ${id}`,
      ),
    // 404: gone; 409: removal already in progress (--rm).
    remove: (id: string) =>
      api.json(
        { method: 'DELETE', path: path(id, '?force=1'), allow: [404, 409] },
        `removal of container ${id}`,
      ),
    wait: (id: string, condition?: 'removed', signal?: AbortSignal) =>
      api.json<{ StatusCode?: number }>(
        {
          method: 'POST',
          path: path(id, condition ? `/wait?condition=${condition}` : '/wait'),
          timeoutMs: 0,
          signal,
        },
        `wait for container ${id}`,
      ),
    inspect: async (id: string) =>
      (await api.json<{ Name: string; Config: { Tty?: boolean } }>(
        { method: 'GET', path: path(id, '/json') },
        `inspect of container ${id}`,
      ))!,
    list: async (filters: Record<string, string[]>) =>
      (await api.json<Array<{ Id: string }>>(
        {
          method: 'GET',
          path: `/containers/json?${new URLSearchParams({ all: '1', filters: JSON.stringify(filters) })}`,
        },
        'container list',
      )) ?? [],
    logs: (id: string, signal: AbortSignal) =>
      api.request({ method: 'GET', path: path(id, '/logs?follow=1&stdout=1&stderr=1&tail=20'), signal }),
  };
}

/** Creates the `--run` container runner (validates the args string at once). */
export function createContainerRunner(opts: ContainerRunnerOptions): ContainerRunner {
  const host = typeof opts.engine === 'string' ? opts.engine : opts.engine.host;
  const docker = containerApi(localEngineApi(host));
  const stopTimeout = opts.stopTimeoutSec ?? 5;
  const owner = opts.owner;
  // Fail on bad quoting now, not at the first build.
  dockerRunArgs(opts.runArgs, 'image', opts.name, owner);
  let currentId = '';
  const followers = new Map<string, Set<() => void>>();

  const stopFollowing = (id: string) => {
    for (const stop of [...(followers.get(id) ?? [])]) stop();
    followers.delete(id);
  };

  async function removePrevious(id: string, t = stopTimeout): Promise<void> {
    stopFollowing(id);
    await docker.stop(id, t);
    await docker.remove(id);
    // --rm removes asynchronously: wait until the name is free for the next container.
    try {
      await docker.wait(id, 'removed');
    } catch {
      // gone already
    }
  }

  /** Every container of this session's owner (any state: running, exited, created). */
  async function owned(): Promise<string[]> {
    if (!owner) return [];
    const list = await docker.list({ label: [`${OWNER_LABEL}=${owner}`] });
    return list.map((c) => c.Id);
  }

  function dockerRun(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host };
      delete env.DOCKER_CONTEXT;
      const child = spawn(dockerCli(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', (e) =>
        reject(
          new DepotError('container_failed', `cannot run the docker CLI: ${e.message}`, 'install docker', {
            cause: e,
          }),
        ),
      );
      child.on('close', (code) => {
        const id = out.trim().split('\n').pop()?.trim() ?? '';
        if (code === 0 && id) resolve(id);
        else
          reject(
            new DepotError(
              'container_failed',
              `docker run failed: ${dockerErrorText(err) || `exit code ${code}`}`,
            ),
          );
      });
    });
  }

  return {
    async replace(imageId) {
      const prev = currentId;
      currentId = '';
      if (prev) await removePrevious(prev);
      // What an earlier session of this owner left (it was killed, or its start failed) goes too.
      for (const id of await owned()) await removePrevious(id);
      if (opts.name) {
        // One kept from an earlier `depot dev` run holds the name: it is ours to replace.
        const stale = await docker.list({ name: [`^/${opts.name}$`], label: [`${DEV_LABEL}=1`] });
        for (const s of stale) await removePrevious(s.Id);
      }
      let id: string;
      try {
        id = await dockerRun(dockerRunArgs(opts.runArgs, imageId, opts.name, owner));
      } catch (err) {
        // A failed start (a port in use, a bad flag) may leave a `Created` container: remove it.
        for (const left of await owned().catch(() => [])) await removePrevious(left, 0).catch(() => {});
        throw err;
      }
      currentId = id;
      let name = opts.name ?? '';
      try {
        const info = await docker.inspect(id);
        name = info.Name.replace(/^\//, '');
      } catch {
        // --rm and already gone: keep what we know
      }
      return { id, name };
    },

    follow(id, onLines, onExit) {
      const ac = new AbortController();
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        ac.abort();
        followers.get(id)?.delete(stop);
      };
      if (!followers.has(id)) followers.set(id, new Set());
      followers.get(id)!.add(stop);

      const partial = { out: '', err: '' };
      const emit = (key: 'out' | 'err', chunk: Buffer | string) => {
        if (stopped) return;
        const text = partial[key] + chunk.toString();
        const parts = text.split('\n');
        partial[key] = parts.pop() ?? '';
        const lines = parts.map((l) => l.replace(/\r$/, ''));
        if (lines.length) onLines(lines);
      };
      const flush = () => {
        const lines = [partial.out, partial.err].filter((l) => l !== '').map((l) => l.replace(/\r$/, ''));
        partial.out = '';
        partial.err = '';
        if (lines.length && !stopped) onLines(lines);
      };

      const logsEnded = (async () => {
        const info = await docker.inspect(id);
        const res = await docker.logs(id, ac.signal);
        if ((res.statusCode ?? 500) >= 400) {
          res.resume();
          return;
        }
        // With a TTY the log is the raw terminal output; without, stdout and stderr are multiplexed.
        if (info.Config.Tty) for await (const d of res) emit('out', d as Buffer);
        else for await (const f of demuxStream(res)) emit(f.stream === 'stderr' ? 'err' : 'out', f.data);
      })().catch(() => {});

      void (async () => {
        let code = -1;
        try {
          const r = await docker.wait(id, undefined, ac.signal);
          code = r?.StatusCode ?? -1;
        } catch {
          // removed before we asked, or following stopped
        }
        if (stopped) return;
        // The log stream ends when the container stops: let the last lines arrive first.
        await Promise.race([logsEnded, new Promise((r) => setTimeout(r, 1000).unref())]);
        flush();
        if (stopped) return;
        stop();
        onExit(code);
      })();
      return stop;
    },

    async close() {
      for (const id of [...followers.keys()]) stopFollowing(id);
      // The session ends: its container goes with it (every container of its owner).
      const ids = new Set(await owned().catch(() => []));
      if (currentId) ids.add(currentId);
      currentId = '';
      const errors: unknown[] = [];
      for (const id of ids) await removePrevious(id, Math.min(stopTimeout, 2)).catch((e) => errors.push(e));
      if (errors.length > 0) throw errors[0];
    },
  };
}
