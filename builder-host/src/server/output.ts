import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { BuildEvent, BuildRequest } from '../../../src/protocol/index.js';
import { badOutputPath, type OutputSink, type OutputTotals, type SessionOutput } from '../engine/index.js';
import type { Limits } from './limits.js';
import { RpcError } from './rpc-error.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The output a Build asks for (-o type=local|tar), checked: undefined when none. A request names
 * no path the builder would write: the files travel back on the Build stream.
 */
export function checkOutputRequest(
  limits: Limits,
  out: BuildRequest['output'],
  driver: string,
): Omit<SessionOutput, 'sink'> | undefined {
  if (!out?.type) return undefined;
  const type = out.type;
  if (type !== 'local' && type !== 'tar')
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `unknown output type ${JSON.stringify(type)}: use local or tar`,
    );
  if (driver !== 'session')
    throw new RpcError(
      grpc.status.FAILED_PRECONDITION,
      'this builder drives its engine without a BuildKit session (tar driver): it cannot send outputs',
    );
  const have = out.have ?? [];
  if (have.length > limits.outputHave)
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `output: at most ${limits.outputHave} files held by the client may be listed`,
    );
  const held = new Map<string, { digest: string; size: number }>();
  for (const h of have) {
    const path = h.path ?? '';
    const bad = badOutputPath(path, limits.outputPathLength);
    if (bad) throw new RpcError(grpc.status.INVALID_ARGUMENT, `output: a held file has ${bad}`);
    if (!DIGEST.test(h.digest ?? ''))
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `output: held file ${JSON.stringify(path)} has a bad digest`,
      );
    held.set(path, { digest: h.digest!, size: Number(h.size ?? 0) });
  }
  return {
    type,
    have: type === 'local' ? held : undefined,
    limits: { bytes: limits.outputBytes, files: limits.outputFiles, pathLength: limits.outputPathLength },
  };
}

const ENTRY_TYPE = {
  file: 'ENTRY_TYPE_FILE',
  dir: 'ENTRY_TYPE_DIR',
  symlink: 'ENTRY_TYPE_SYMLINK',
  hardlink: 'ENTRY_TYPE_HARDLINK',
} as const;

interface WritableCall {
  write(ev: BuildEvent): boolean;
  once(event: 'drain', cb: () => void): unknown;
}

/** A sink that writes the output as BuildEvent.output on the Build call, waiting while it is full. */
export function createOutputSink(
  call: WritableCall & NodeJS.EventEmitter,
  signal: AbortSignal,
  onDone: (totals: OutputTotals) => void,
): OutputSink {
  const write = async (output: NonNullable<BuildEvent['output']>) => {
    if (signal.aborted) throw new Error('the client went away');
    if (call.write({ output })) return;
    await once(call, 'drain', { signal }).catch(() => {
      throw new Error('the client went away');
    });
  };
  return {
    entry: (e) =>
      write({
        entry: {
          path: e.path,
          type: ENTRY_TYPE[e.type],
          mode: e.mode,
          size: e.size,
          // A string keeps the nanoseconds a double would round.
          mtimeNs: e.mtimeNs.toString(),
          link: e.link,
          unchanged: e.unchanged ?? false,
          digest: e.digest ?? '',
        },
      }),
    data: (chunk) => write({ data: chunk }),
    fileEnd: (digest) => write({ fileEnd: digest }),
    done: async (totals) => {
      onDone(totals);
      await write({ done: totals });
    },
  };
}
