import * as grpc from '@grpc/grpc-js';
import { type BuilderHandlers, CHUNK_SIZE } from '../../../src/protocol/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { RpcError, toStatus } from './rpc-error.js';

/** Export: one of the project's images as a docker-archive, without the layers the client has. */
export function createExportHandler(deps: ServerDeps): BuilderHandlers['Export'] {
  const { engine, logger, logCall, holds } = deps;
  return (call) => {
    const started = Date.now();
    const ac = new AbortController();
    let caller: CallContext | undefined;
    let endHold = () => {};
    call.on('cancelled', () => ac.abort());
    (async () => {
      caller = await deps.auth.authorize(call);
      const req = call.request;
      // Only the project's own results, by id or by the name it tagged: any other image, another
      // project's included, is as unknown as one the engine does not have.
      const ns = caller.images;
      const project = caller.project;
      let name = req.imageId;
      const byId = /^sha256:[0-9a-f]{64}$/.test(name);
      // Asked by id (as clients load): held before the look-up, so no collection can take the
      // names between the check below and the stream.
      let endUse = byId ? holds.use(project, name) : () => {};
      endHold = () => endUse();
      if (!byId) {
        try {
          name = ns.name(name);
        } catch {
          name = '';
        }
      }
      const img = name ? await engine.inspectImage(name) : undefined;
      if (!img || !ns.owns(img.repoTags))
        throw new RpcError(grpc.status.NOT_FOUND, `unknown image ${req.imageId}`);
      // Named while it streams; a load the build announced is served once this Export ends, well or not.
      if (!byId) endUse = holds.use(project, img.id);
      endHold = () => {
        holds.loaded(project, img.id);
        endUse();
      };
      const { stream, summary } = engine.exportImage(
        img.id,
        new Set(req.haveChainIds),
        req.allLayers,
        ac.signal,
      );
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; off += CHUNK_SIZE) {
          const part = chunk.subarray(off, off + CHUNK_SIZE);
          if (!call.write({ data: part })) await new Promise((r) => call.once('drain', r));
        }
      }
      const s = await summary;
      call.write({ summary: s });
      call.end();
      logger.info({ rpc: 'Export', project: caller.project, image: req.imageId, ...s }, 'export done');
    })()
      .catch((err) => {
        logCall('Export', caller, started, err);
        if (!ac.signal.aborted) call.emit('error', toStatus(err));
      })
      .finally(() => endHold());
  };
}
