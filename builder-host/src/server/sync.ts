import * as grpc from '@grpc/grpc-js';
import {
  applyDiff,
  type BuilderHandlers,
  CHUNK_SIZE,
  type ContextEntry,
  type Entry__Output,
  entryFromWire,
  ManifestError,
  type SyncRequest__Output,
  validateManifest,
} from '../../../src/protocol/index.js';
import type { BlobWriter } from '../store/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { checkFileSize, checkManifestSize, createSlots, formatBytes } from './limits.js';
import { RpcError, toStatus } from './rpc-error.js';

/**
 * Sync: a manifest (or a delta against one of the project's snapshots) in, the digests the project
 * must upload out, the blobs in, a snapshot id out.
 */
export function createSyncHandler(deps: ServerDeps): BuilderHandlers['Sync'] {
  const { logger, syncs, logCall, limits } = deps;
  const slots = createSlots(
    limits.syncs,
    (_, max) => `the builder is receiving ${max} contexts already, its limit: try again in a moment`,
  );
  return (call) => {
    const started = Date.now();
    let caller: CallContext | undefined;
    let writer: BlobWriter | undefined;
    let finished = false;
    // Whole small blobs being stored: a failed sync waits for them before it settles the store.
    const inflight = new Set<Promise<void>>();
    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      void writer?.abort();
      logCall('Sync', caller, started, err);
      // What the failed sync stored leaves the temp dir before its client hears of the failure.
      const store = caller?.store;
      void Promise.allSettled([...inflight])
        .then(() => store?.settle())
        .then(() => call.emit('error', toStatus(err)));
    };
    call.on('cancelled', () => {
      finished = true;
      void writer?.abort();
    });
    let release = () => {};
    let idle: NodeJS.Timeout | undefined;
    (async () => {
      caller = await deps.auth.authorize(call);
      const store = caller.store;
      release = slots.take('');
      // Not `call[Symbol.asyncIterator]()`: that iterator destroys the stream when the client's
      // side ends, and a destroyed call can no longer send its status — a client that stopped
      // early (or sent nothing) would wait forever instead of getting an error.
      const messages = call.iterator({ destroyOnReturn: false }) as AsyncIterator<SyncRequest__Output>;
      // A client that stalls holds a temp file, an fd and a sync slot: it gets a deadline per message.
      const iter = {
        next: () =>
          new Promise<IteratorResult<SyncRequest__Output>>((resolve, reject) => {
            idle = setTimeout(
              () =>
                reject(
                  new RpcError(
                    grpc.status.DEADLINE_EXCEEDED,
                    `the client sent nothing for ${limits.syncIdleMs / 1000}s: sync abandoned`,
                  ),
                ),
              limits.syncIdleMs,
            );
            messages.next().then(resolve, reject);
          }).finally(() => clearTimeout(idle)),
      };
      const first = await iter.next();
      if (first.done || !first.value.begin)
        throw new RpcError(grpc.status.INVALID_ARGUMENT, 'sync must start with a manifest');
      const begin = first.value.begin;
      let entries: ContextEntry[];
      // Counted before anything is decoded: a million-entry manifest is refused, not processed.
      checkManifestSize(limits, (begin.full?.entries.length ?? 0) + (begin.delta?.upserts.length ?? 0));
      if (begin.delta) {
        // Another project's snapshot is as unknown as one nobody stored.
        const base = await store.snapshot(begin.delta.baseSnapshot);
        if (!base)
          throw new RpcError(
            grpc.status.FAILED_PRECONDITION,
            `unknown base snapshot ${begin.delta.baseSnapshot}`,
          );
        if (begin.delta.upserts.length === 0 && begin.delta.removals.length === 0) {
          // Nothing changed: the base was validated and stored already; acknowledge it as is.
          const totalBytes = base.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
          call.write({ need: { digests: [], bytes: 0 } });
          store.touch(begin.delta.baseSnapshot);
          syncs.note(caller.project, begin.delta.baseSnapshot, 0, totalBytes);
          call.write({
            ready: {
              snapshotId: begin.delta.baseSnapshot,
              entries: base.length,
              totalBytes,
              receivedBytes: 0,
            },
          });
          finished = true;
          call.end();
          logCall('Sync', caller, started);
          return;
        }
        entries = applyDiff(base, {
          upserts: begin.delta.upserts.map(wireEntry),
          removals: begin.delta.removals,
        });
      } else {
        entries = (begin.full?.entries ?? []).map(wireEntry);
      }
      checkManifestSize(limits, entries.length);
      for (const e of entries) if (e.type === 'file') checkFileSize(limits, e.path, e.size);
      validateManifest(entries);
      const sizes = new Map<string, number>();
      for (const e of entries)
        if (e.type === 'file') {
          const seen = sizes.get(e.digest);
          if (seen !== undefined && seen !== e.size)
            throw new RpcError(
              grpc.status.INVALID_ARGUMENT,
              `invalid manifest: ${e.digest} is listed with sizes ${seen} and ${e.size}`,
            );
          sizes.set(e.digest, e.size);
        }
      // Proof of possession: the project uploads every blob it has not uploaded itself, even when
      // the store has the bytes from another project, so presence never answers for others' files.
      const missing = await store.missing(sizes);
      const pending = new Set(missing);
      const needBytes = missing.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
      if (limits.projectQuotaBytes !== undefined && needBytes > 0) {
        const used = store.usageBytes();
        if (used + needBytes > limits.projectQuotaBytes)
          throw new RpcError(
            grpc.status.RESOURCE_EXHAUSTED,
            `project ${caller.project} would exceed its storage quota: ${formatBytes(used)} used + ${formatBytes(needBytes)} to upload > ${formatBytes(limits.projectQuotaBytes)} allowed (ask the builder's operator to collect garbage or raise --project-quota)`,
          );
      }
      call.write({ need: { digests: missing, bytes: needBytes } });
      let received = 0;
      let current = '';
      let putError: unknown;
      while (pending.size > 0) {
        const next = await iter.next();
        if (next.done)
          throw new RpcError(
            grpc.status.INVALID_ARGUMENT,
            'the sync ended before every blob asked for was sent',
          );
        const chunk = next.value.chunk;
        if (!chunk) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'expected a blob chunk');
        if (chunk.digest !== current && chunk.last && !writer) {
          // A whole blob in one message (most files): verified in memory, stored in the
          // background with bounded concurrency, made durable by one flush before the ack.
          if (!pending.has(chunk.digest))
            throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${chunk.digest} was not asked for`);
          const want = sizes.get(chunk.digest);
          if (chunk.data.length !== want)
            throw new RpcError(
              grpc.status.INVALID_ARGUMENT,
              `blob ${chunk.digest} was ${chunk.data.length} bytes, expected ${want}`,
            );
          pending.delete(chunk.digest);
          received += chunk.data.length;
          const put: Promise<void> = store
            .put(chunk.digest, chunk.data)
            .catch((err) => {
              putError ??= err;
            })
            .finally(() => inflight.delete(put));
          inflight.add(put);
          if (inflight.size >= 32) await Promise.race(inflight);
          if (putError) throw putError;
          continue;
        }
        if (chunk.digest !== current) {
          if (writer) throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${current} ended without last`);
          if (!pending.has(chunk.digest))
            throw new RpcError(grpc.status.INVALID_ARGUMENT, `blob ${chunk.digest} was not asked for`);
          current = chunk.digest;
          writer = store.begin(chunk.digest, sizes.get(chunk.digest) ?? 0);
        }
        if (chunk.data.length > CHUNK_SIZE)
          throw new RpcError(grpc.status.INVALID_ARGUMENT, 'blob chunk larger than the protocol allows');
        if (chunk.data.length) await writer!.write(chunk.data);
        received += chunk.data.length;
        if (chunk.last) {
          const w = writer!;
          writer = undefined;
          current = '';
          await w.commit();
          pending.delete(chunk.digest);
        }
      }
      await Promise.all(inflight);
      if (putError) throw putError;
      await store.flushAndClaim(missing.map((digest) => ({ digest, size: sizes.get(digest) ?? 0 })));
      const id = await store.putSnapshot(entries);
      const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
      syncs.note(caller.project, id, received, totalBytes);
      call.write({
        ready: { snapshotId: id, entries: entries.length, totalBytes, receivedBytes: received },
      });
      finished = true;
      call.end();
      logger.info(
        { rpc: 'Sync', project: caller.project, snapshot: id, blobs: missing.length, bytes: received },
        'snapshot ready',
      );
      logCall('Sync', caller, started);
    })()
      .catch(fail)
      .finally(() => {
        clearTimeout(idle);
        release();
        // Claimed, or failed: a failed sync's uploads are not kept for it.
        caller?.store.release();
      });
  };
}

function wireEntry(e: Entry__Output): ContextEntry {
  const entry = entryFromWire(e);
  if (!entry) throw new ManifestError(`invalid manifest: unknown entry type for ${JSON.stringify(e.path)}`);
  return entry;
}
