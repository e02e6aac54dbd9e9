import * as grpc from '@grpc/grpc-js';
import {
  type BuilderHandlers,
  buildTree,
  CHUNK_SIZE,
  type ContextEntry,
  type Entry__Output,
  entryFromWire,
  ManifestError,
  type SyncRequest__Output,
  type TreeResult,
} from '../../../src/protocol/index.js';
import type { BlobWriter } from '../store/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { protocolMismatch } from './hello.js';
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
      // Counted before anything is decoded: a million-entry manifest is refused, not processed.
      checkManifestSize(limits, (begin.full?.entries.length ?? 0) + (begin.delta?.upserts.length ?? 0));
      const checkFile = (e: ContextEntry) => {
        if (e.type === 'file') checkFileSize(limits, e.path, e.size);
      };
      let tree: TreeResult;
      let upserted: ContextEntry[];
      if (begin.delta) {
        upserted = begin.delta.upserts.map(wireEntry);
        const diff = { upserts: upserted, removals: begin.delta.removals };
        // Only the nodes on the changed paths are loaded; only the changed entries are validated.
        const t = await store.applyDelta(begin.delta.baseSnapshot, diff, { checkEntry: checkFile });
        if (!t)
          throw new RpcError(
            grpc.status.FAILED_PRECONDITION,
            `unknown base snapshot ${begin.delta.baseSnapshot}`,
          );
        tree = t;
      } else {
        upserted = (begin.full?.entries ?? []).map(wireEntry);
        for (const e of upserted) checkFile(e);
        tree = buildTree(upserted);
      }
      checkManifestSize(limits, tree.entries);
      // A client of the manifest-hash ids sends no expected id: it must not get a snapshot it would
      // misread (its Hello was refused already; this covers a client that skipped it).
      if (!begin.snapshotId) throw protocolMismatch(0);
      if (tree.id !== begin.snapshotId)
        throw new RpcError(
          grpc.status.INVALID_ARGUMENT,
          `the client expected snapshot ${begin.snapshotId} but the manifest it sent makes ${tree.id}`,
        );
      if (begin.delta && tree.id === begin.delta.baseSnapshot) {
        // Nothing changed: the base was validated and stored already; acknowledge it as is.
        call.write({ need: { digests: [], bytes: 0 } });
        store.touch(tree.id);
        syncs.note(caller.project, tree.id, 0, tree.bytes);
        call.write({
          ready: { snapshotId: tree.id, entries: tree.entries, totalBytes: tree.bytes, receivedBytes: 0 },
        });
        finished = true;
        call.end();
        logCall('Sync', caller, started);
        return;
      }
      const sizes = new Map<string, number>();
      for (const e of upserted)
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
      // A delta's base files were proven when the base was stored: only its new files are checked.
      const id = await store.putTree(tree, sizes);
      const totalBytes = begin.delta ? tree.bytes : [...sizes.values()].reduce((a, b) => a + b, 0);
      syncs.note(caller.project, id, received, totalBytes);
      call.write({
        ready: { snapshotId: id, entries: tree.entries, totalBytes, receivedBytes: received },
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
