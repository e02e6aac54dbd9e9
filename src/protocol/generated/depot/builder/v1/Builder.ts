// Original file: proto/depot/builder/v1/builder.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BuildEvent as _depot_builder_v1_BuildEvent, BuildEvent__Output as _depot_builder_v1_BuildEvent__Output } from '../../../depot/builder/v1/BuildEvent.js';
import type { BuildRequest as _depot_builder_v1_BuildRequest, BuildRequest__Output as _depot_builder_v1_BuildRequest__Output } from '../../../depot/builder/v1/BuildRequest.js';
import type { BuildSummary as _depot_builder_v1_BuildSummary, BuildSummary__Output as _depot_builder_v1_BuildSummary__Output } from '../../../depot/builder/v1/BuildSummary.js';
import type { BuildTraceChunk as _depot_builder_v1_BuildTraceChunk, BuildTraceChunk__Output as _depot_builder_v1_BuildTraceChunk__Output } from '../../../depot/builder/v1/BuildTraceChunk.js';
import type { BuildTraceRequest as _depot_builder_v1_BuildTraceRequest, BuildTraceRequest__Output as _depot_builder_v1_BuildTraceRequest__Output } from '../../../depot/builder/v1/BuildTraceRequest.js';
import type { ExportChunk as _depot_builder_v1_ExportChunk, ExportChunk__Output as _depot_builder_v1_ExportChunk__Output } from '../../../depot/builder/v1/ExportChunk.js';
import type { ExportRequest as _depot_builder_v1_ExportRequest, ExportRequest__Output as _depot_builder_v1_ExportRequest__Output } from '../../../depot/builder/v1/ExportRequest.js';
import type { HelloRequest as _depot_builder_v1_HelloRequest, HelloRequest__Output as _depot_builder_v1_HelloRequest__Output } from '../../../depot/builder/v1/HelloRequest.js';
import type { HelloResponse as _depot_builder_v1_HelloResponse, HelloResponse__Output as _depot_builder_v1_HelloResponse__Output } from '../../../depot/builder/v1/HelloResponse.js';
import type { ListBuildsRequest as _depot_builder_v1_ListBuildsRequest, ListBuildsRequest__Output as _depot_builder_v1_ListBuildsRequest__Output } from '../../../depot/builder/v1/ListBuildsRequest.js';
import type { ListBuildsResponse as _depot_builder_v1_ListBuildsResponse, ListBuildsResponse__Output as _depot_builder_v1_ListBuildsResponse__Output } from '../../../depot/builder/v1/ListBuildsResponse.js';
import type { SshFrame as _depot_builder_v1_SshFrame, SshFrame__Output as _depot_builder_v1_SshFrame__Output } from '../../../depot/builder/v1/SshFrame.js';
import type { StatsRequest as _depot_builder_v1_StatsRequest, StatsRequest__Output as _depot_builder_v1_StatsRequest__Output } from '../../../depot/builder/v1/StatsRequest.js';
import type { StatsResponse as _depot_builder_v1_StatsResponse, StatsResponse__Output as _depot_builder_v1_StatsResponse__Output } from '../../../depot/builder/v1/StatsResponse.js';
import type { StepCostsRequest as _depot_builder_v1_StepCostsRequest, StepCostsRequest__Output as _depot_builder_v1_StepCostsRequest__Output } from '../../../depot/builder/v1/StepCostsRequest.js';
import type { StepCostsResponse as _depot_builder_v1_StepCostsResponse, StepCostsResponse__Output as _depot_builder_v1_StepCostsResponse__Output } from '../../../depot/builder/v1/StepCostsResponse.js';
import type { SyncRequest as _depot_builder_v1_SyncRequest, SyncRequest__Output as _depot_builder_v1_SyncRequest__Output } from '../../../depot/builder/v1/SyncRequest.js';
import type { SyncResponse as _depot_builder_v1_SyncResponse, SyncResponse__Output as _depot_builder_v1_SyncResponse__Output } from '../../../depot/builder/v1/SyncResponse.js';
import type { WatchBuildsRequest as _depot_builder_v1_WatchBuildsRequest, WatchBuildsRequest__Output as _depot_builder_v1_WatchBuildsRequest__Output } from '../../../depot/builder/v1/WatchBuildsRequest.js';

export interface BuilderClient extends grpc.Client {
  /**
   * Builds a snapshot; streams build events and ends with exactly one result.
   */
  Build(argument: _depot_builder_v1_BuildRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildEvent__Output>;
  Build(argument: _depot_builder_v1_BuildRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildEvent__Output>;
  /**
   * Builds a snapshot; streams build events and ends with exactly one result.
   */
  build(argument: _depot_builder_v1_BuildRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildEvent__Output>;
  build(argument: _depot_builder_v1_BuildRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildEvent__Output>;
  
  /**
   * One recorded build of the caller's project and the events its Build stream sent, to replay
   * it: a header first, then the events in order, in batches. A build of another project, or
   * none, is NOT_FOUND alike. Needs the "history.builds" capability.
   */
  BuildTrace(argument: _depot_builder_v1_BuildTraceRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildTraceChunk__Output>;
  BuildTrace(argument: _depot_builder_v1_BuildTraceRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildTraceChunk__Output>;
  /**
   * One recorded build of the caller's project and the events its Build stream sent, to replay
   * it: a header first, then the events in order, in batches. A build of another project, or
   * none, is NOT_FOUND alike. Needs the "history.builds" capability.
   */
  buildTrace(argument: _depot_builder_v1_BuildTraceRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildTraceChunk__Output>;
  buildTrace(argument: _depot_builder_v1_BuildTraceRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildTraceChunk__Output>;
  
  /**
   * Streams a docker-archive of an image without the layers the client already has.
   */
  Export(argument: _depot_builder_v1_ExportRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_ExportChunk__Output>;
  Export(argument: _depot_builder_v1_ExportRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_ExportChunk__Output>;
  /**
   * Streams a docker-archive of an image without the layers the client already has.
   */
  export(argument: _depot_builder_v1_ExportRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_ExportChunk__Output>;
  export(argument: _depot_builder_v1_ExportRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_ExportChunk__Output>;
  
  /**
   * Relays the client's SSH agent for one build (`--ssh`). The client opens it before Build and
   * sends a first frame with `build_id` and nothing else; the builder then opens one connection
   * (`open`, `conn`, `ssh_id`) per agent connection BuildKit makes, and both sides relay `data`
   * for that `conn` until one sends `close`. Needs the "build.ssh" capability.
   */
  ForwardSsh(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output>;
  ForwardSsh(options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output>;
  /**
   * Relays the client's SSH agent for one build (`--ssh`). The client opens it before Build and
   * sends a first frame with `build_id` and nothing else; the builder then opens one connection
   * (`open`, `conn`, `ssh_id`) per agent connection BuildKit makes, and both sides relay `data`
   * for that `conn` until one sends `close`. Needs the "build.ssh" capability.
   */
  forwardSsh(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output>;
  forwardSsh(options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output>;
  
  /**
   * Versions, platforms and capabilities of the builder; also checks the token.
   */
  Hello(argument: _depot_builder_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _depot_builder_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _depot_builder_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  Hello(argument: _depot_builder_v1_HelloRequest, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Versions, platforms and capabilities of the builder; also checks the token.
   */
  hello(argument: _depot_builder_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _depot_builder_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _depot_builder_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  hello(argument: _depot_builder_v1_HelloRequest, callback: grpc.requestCallback<_depot_builder_v1_HelloResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The caller's project's latest recorded builds, newest first (always one project's: the
   * token's; an admin's, the one it asks for). Needs the "history.builds" capability.
   */
  ListBuilds(argument: _depot_builder_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _depot_builder_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _depot_builder_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _depot_builder_v1_ListBuildsRequest, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The caller's project's latest recorded builds, newest first (always one project's: the
   * token's; an admin's, the one it asks for). Needs the "history.builds" capability.
   */
  listBuilds(argument: _depot_builder_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _depot_builder_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _depot_builder_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _depot_builder_v1_ListBuildsRequest, callback: grpc.requestCallback<_depot_builder_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Cache statistics over a window, grouped; scoped by the token (a project token sees its project).
   */
  Stats(argument: _depot_builder_v1_StatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  Stats(argument: _depot_builder_v1_StatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  Stats(argument: _depot_builder_v1_StatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  Stats(argument: _depot_builder_v1_StatsRequest, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Cache statistics over a window, grouped; scoped by the token (a project token sees its project).
   */
  stats(argument: _depot_builder_v1_StatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  stats(argument: _depot_builder_v1_StatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  stats(argument: _depot_builder_v1_StatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  stats(argument: _depot_builder_v1_StatsRequest, callback: grpc.requestCallback<_depot_builder_v1_StatsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What each instruction of one line of builds (Dockerfile path, target, platform) cost over the
   * caller's project's last builds: misses, the time they took, which earlier step caused them.
   * Always one project's (the token's; an admin's: the one it asks for). Needs the
   * "history.step-costs" capability.
   */
  StepCosts(argument: _depot_builder_v1_StepCostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  StepCosts(argument: _depot_builder_v1_StepCostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  StepCosts(argument: _depot_builder_v1_StepCostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  StepCosts(argument: _depot_builder_v1_StepCostsRequest, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What each instruction of one line of builds (Dockerfile path, target, platform) cost over the
   * caller's project's last builds: misses, the time they took, which earlier step caused them.
   * Always one project's (the token's; an admin's: the one it asks for). Needs the
   * "history.step-costs" capability.
   */
  stepCosts(argument: _depot_builder_v1_StepCostsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  stepCosts(argument: _depot_builder_v1_StepCostsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  stepCosts(argument: _depot_builder_v1_StepCostsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  stepCosts(argument: _depot_builder_v1_StepCostsRequest, callback: grpc.requestCallback<_depot_builder_v1_StepCostsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Client sends a full or delta manifest, the builder answers with the digests it lacks,
   * the client streams those blobs, the builder answers with the snapshot id.
   */
  Sync(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncResponse__Output>;
  Sync(options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncResponse__Output>;
  /**
   * Client sends a full or delta manifest, the builder answers with the digests it lacks,
   * the client streams those blobs, the builder answers with the snapshot id.
   */
  sync(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncResponse__Output>;
  sync(options?: grpc.CallOptions): grpc.ClientDuplexStream<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncResponse__Output>;
  
  /**
   * A summary of every build as it starts and finishes, live; scoped like Stats.
   */
  WatchBuilds(argument: _depot_builder_v1_WatchBuildsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildSummary__Output>;
  WatchBuilds(argument: _depot_builder_v1_WatchBuildsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildSummary__Output>;
  /**
   * A summary of every build as it starts and finishes, live; scoped like Stats.
   */
  watchBuilds(argument: _depot_builder_v1_WatchBuildsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildSummary__Output>;
  watchBuilds(argument: _depot_builder_v1_WatchBuildsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_depot_builder_v1_BuildSummary__Output>;
  
}

export interface BuilderHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Builds a snapshot; streams build events and ends with exactly one result.
   */
  Build: grpc.handleServerStreamingCall<_depot_builder_v1_BuildRequest__Output, _depot_builder_v1_BuildEvent>;
  
  /**
   * One recorded build of the caller's project and the events its Build stream sent, to replay
   * it: a header first, then the events in order, in batches. A build of another project, or
   * none, is NOT_FOUND alike. Needs the "history.builds" capability.
   */
  BuildTrace: grpc.handleServerStreamingCall<_depot_builder_v1_BuildTraceRequest__Output, _depot_builder_v1_BuildTraceChunk>;
  
  /**
   * Streams a docker-archive of an image without the layers the client already has.
   */
  Export: grpc.handleServerStreamingCall<_depot_builder_v1_ExportRequest__Output, _depot_builder_v1_ExportChunk>;
  
  /**
   * Relays the client's SSH agent for one build (`--ssh`). The client opens it before Build and
   * sends a first frame with `build_id` and nothing else; the builder then opens one connection
   * (`open`, `conn`, `ssh_id`) per agent connection BuildKit makes, and both sides relay `data`
   * for that `conn` until one sends `close`. Needs the "build.ssh" capability.
   */
  ForwardSsh: grpc.handleBidiStreamingCall<_depot_builder_v1_SshFrame__Output, _depot_builder_v1_SshFrame>;
  
  /**
   * Versions, platforms and capabilities of the builder; also checks the token.
   */
  Hello: grpc.handleUnaryCall<_depot_builder_v1_HelloRequest__Output, _depot_builder_v1_HelloResponse>;
  
  /**
   * The caller's project's latest recorded builds, newest first (always one project's: the
   * token's; an admin's, the one it asks for). Needs the "history.builds" capability.
   */
  ListBuilds: grpc.handleUnaryCall<_depot_builder_v1_ListBuildsRequest__Output, _depot_builder_v1_ListBuildsResponse>;
  
  /**
   * Cache statistics over a window, grouped; scoped by the token (a project token sees its project).
   */
  Stats: grpc.handleUnaryCall<_depot_builder_v1_StatsRequest__Output, _depot_builder_v1_StatsResponse>;
  
  /**
   * What each instruction of one line of builds (Dockerfile path, target, platform) cost over the
   * caller's project's last builds: misses, the time they took, which earlier step caused them.
   * Always one project's (the token's; an admin's: the one it asks for). Needs the
   * "history.step-costs" capability.
   */
  StepCosts: grpc.handleUnaryCall<_depot_builder_v1_StepCostsRequest__Output, _depot_builder_v1_StepCostsResponse>;
  
  /**
   * Client sends a full or delta manifest, the builder answers with the digests it lacks,
   * the client streams those blobs, the builder answers with the snapshot id.
   */
  Sync: grpc.handleBidiStreamingCall<_depot_builder_v1_SyncRequest__Output, _depot_builder_v1_SyncResponse>;
  
  /**
   * A summary of every build as it starts and finishes, live; scoped like Stats.
   */
  WatchBuilds: grpc.handleServerStreamingCall<_depot_builder_v1_WatchBuildsRequest__Output, _depot_builder_v1_BuildSummary>;
  
}

export interface BuilderDefinition extends grpc.ServiceDefinition {
  Build: MethodDefinition<_depot_builder_v1_BuildRequest, _depot_builder_v1_BuildEvent, _depot_builder_v1_BuildRequest__Output, _depot_builder_v1_BuildEvent__Output>
  BuildTrace: MethodDefinition<_depot_builder_v1_BuildTraceRequest, _depot_builder_v1_BuildTraceChunk, _depot_builder_v1_BuildTraceRequest__Output, _depot_builder_v1_BuildTraceChunk__Output>
  Export: MethodDefinition<_depot_builder_v1_ExportRequest, _depot_builder_v1_ExportChunk, _depot_builder_v1_ExportRequest__Output, _depot_builder_v1_ExportChunk__Output>
  ForwardSsh: MethodDefinition<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output, _depot_builder_v1_SshFrame__Output>
  Hello: MethodDefinition<_depot_builder_v1_HelloRequest, _depot_builder_v1_HelloResponse, _depot_builder_v1_HelloRequest__Output, _depot_builder_v1_HelloResponse__Output>
  ListBuilds: MethodDefinition<_depot_builder_v1_ListBuildsRequest, _depot_builder_v1_ListBuildsResponse, _depot_builder_v1_ListBuildsRequest__Output, _depot_builder_v1_ListBuildsResponse__Output>
  Stats: MethodDefinition<_depot_builder_v1_StatsRequest, _depot_builder_v1_StatsResponse, _depot_builder_v1_StatsRequest__Output, _depot_builder_v1_StatsResponse__Output>
  StepCosts: MethodDefinition<_depot_builder_v1_StepCostsRequest, _depot_builder_v1_StepCostsResponse, _depot_builder_v1_StepCostsRequest__Output, _depot_builder_v1_StepCostsResponse__Output>
  Sync: MethodDefinition<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncResponse, _depot_builder_v1_SyncRequest__Output, _depot_builder_v1_SyncResponse__Output>
  WatchBuilds: MethodDefinition<_depot_builder_v1_WatchBuildsRequest, _depot_builder_v1_BuildSummary, _depot_builder_v1_WatchBuildsRequest__Output, _depot_builder_v1_BuildSummary__Output>
}
