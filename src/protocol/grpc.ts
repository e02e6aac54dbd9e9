import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/builder.js';
import type { Entry, Entry__Output } from './generated/depot/builder/v1/Entry.js';
import type { ContextEntry, EntryKind } from './manifest.js';

export type { BuildEvent, BuildEvent__Output } from './generated/depot/builder/v1/BuildEvent.js';
export type * from './generated/depot/builder/v1/Builder.js';
export type { BuildRequest, BuildRequest__Output } from './generated/depot/builder/v1/BuildRequest.js';
export type { BuildResult__Output } from './generated/depot/builder/v1/BuildResult.js';
export type { Entry, Entry__Output } from './generated/depot/builder/v1/Entry.js';
export type { ExportChunk, ExportChunk__Output } from './generated/depot/builder/v1/ExportChunk.js';
export type { ExportRequest__Output } from './generated/depot/builder/v1/ExportRequest.js';
export type { HelloRequest, HelloRequest__Output } from './generated/depot/builder/v1/HelloRequest.js';
export type { HelloResponse, HelloResponse__Output } from './generated/depot/builder/v1/HelloResponse.js';
export type { OutputEvent, OutputEvent__Output } from './generated/depot/builder/v1/OutputEvent.js';
export type { OutputHave } from './generated/depot/builder/v1/OutputHave.js';
export type { SyncRequest, SyncRequest__Output } from './generated/depot/builder/v1/SyncRequest.js';
export type { SyncResponse, SyncResponse__Output } from './generated/depot/builder/v1/SyncResponse.js';

/**
 * Version of the wire contract; bumped on incompatible changes. 2: snapshot ids are Merkle roots
 * over directory nodes and SyncBegin carries the id the client expects (1: the hash of the whole
 * canonical manifest).
 */
export const PROTOCOL_VERSION = 2;

/**
 * The version this process speaks: PROTOCOL_VERSION, unless DEPOT_TEST_PROTOCOL_VERSION (test-only:
 * lets a test play an older client or builder against a real peer) says otherwise.
 */
export function ownProtocolVersion(): number {
  const v = Number(process.env.DEPOT_TEST_PROTOCOL_VERSION);
  return Number.isInteger(v) && v > 0 ? v : PROTOCOL_VERSION;
}

/** Largest blob chunk either side sends in one message. */
export const CHUNK_SIZE = 1024 * 1024;

function findProtoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'proto', 'depot', 'builder', 'v1', 'builder.proto'))) return join(dir, 'proto');
    dir = dirname(dir);
  }
  throw new Error('proto/depot/builder/v1/builder.proto not found next to the installed package');
}

let cached: ProtoGrpcType | undefined;

/** Loads the Builder service definition (once per process). */
export function loadBuilderProto(): ProtoGrpcType {
  if (cached) return cached;
  const def = protoLoader.loadSync('depot/builder/v1/builder.proto', {
    includeDirs: [findProtoRoot()],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  return cached;
}

const KIND_TO_WIRE = {
  file: 'ENTRY_TYPE_FILE',
  dir: 'ENTRY_TYPE_DIR',
  symlink: 'ENTRY_TYPE_SYMLINK',
  hardlink: 'ENTRY_TYPE_HARDLINK',
} as const satisfies Record<EntryKind, string>;

const WIRE_TO_KIND: Record<string, EntryKind> = {
  ENTRY_TYPE_FILE: 'file',
  ENTRY_TYPE_DIR: 'dir',
  ENTRY_TYPE_SYMLINK: 'symlink',
  ENTRY_TYPE_HARDLINK: 'hardlink',
};

/** Converts a context entry to its wire form. */
export function entryToWire(e: ContextEntry): Entry {
  return {
    path: e.path,
    type: KIND_TO_WIRE[e.type],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtimeMs: e.mtimeMs,
    digest: e.digest,
    link: e.link,
  };
}

/** Converts a wire entry back; undefined for an unknown type. */
export function entryFromWire(e: Entry__Output): ContextEntry | undefined {
  const type = WIRE_TO_KIND[e.type];
  if (!type) return undefined;
  return {
    path: e.path,
    type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtimeMs: e.mtimeMs,
    digest: e.digest,
    link: e.link,
  };
}

/** Metadata key carrying the bearer token on every RPC. */
export const AUTH_METADATA_KEY = 'authorization';
/** Metadata key carrying the project a request is for. */
export const PROJECT_METADATA_KEY = 'x-depot-project';
