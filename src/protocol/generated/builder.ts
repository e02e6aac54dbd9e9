import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { BlobChunk as _depot_builder_v1_BlobChunk, BlobChunk__Output as _depot_builder_v1_BlobChunk__Output } from './depot/builder/v1/BlobChunk.js';
import type { BuildEvent as _depot_builder_v1_BuildEvent, BuildEvent__Output as _depot_builder_v1_BuildEvent__Output } from './depot/builder/v1/BuildEvent.js';
import type { BuildRecord as _depot_builder_v1_BuildRecord, BuildRecord__Output as _depot_builder_v1_BuildRecord__Output } from './depot/builder/v1/BuildRecord.js';
import type { BuildRequest as _depot_builder_v1_BuildRequest, BuildRequest__Output as _depot_builder_v1_BuildRequest__Output } from './depot/builder/v1/BuildRequest.js';
import type { BuildResult as _depot_builder_v1_BuildResult, BuildResult__Output as _depot_builder_v1_BuildResult__Output } from './depot/builder/v1/BuildResult.js';
import type { BuildSummary as _depot_builder_v1_BuildSummary, BuildSummary__Output as _depot_builder_v1_BuildSummary__Output } from './depot/builder/v1/BuildSummary.js';
import type { BuildTraceChunk as _depot_builder_v1_BuildTraceChunk, BuildTraceChunk__Output as _depot_builder_v1_BuildTraceChunk__Output } from './depot/builder/v1/BuildTraceChunk.js';
import type { BuildTraceHeader as _depot_builder_v1_BuildTraceHeader, BuildTraceHeader__Output as _depot_builder_v1_BuildTraceHeader__Output } from './depot/builder/v1/BuildTraceHeader.js';
import type { BuildTraceRequest as _depot_builder_v1_BuildTraceRequest, BuildTraceRequest__Output as _depot_builder_v1_BuildTraceRequest__Output } from './depot/builder/v1/BuildTraceRequest.js';
import type { BuilderClient as _depot_builder_v1_BuilderClient, BuilderDefinition as _depot_builder_v1_BuilderDefinition } from './depot/builder/v1/Builder.js';
import type { CacheBuster as _depot_builder_v1_CacheBuster, CacheBuster__Output as _depot_builder_v1_CacheBuster__Output } from './depot/builder/v1/CacheBuster.js';
import type { CascadeCost as _depot_builder_v1_CascadeCost, CascadeCost__Output as _depot_builder_v1_CascadeCost__Output } from './depot/builder/v1/CascadeCost.js';
import type { CauseCount as _depot_builder_v1_CauseCount, CauseCount__Output as _depot_builder_v1_CauseCount__Output } from './depot/builder/v1/CauseCount.js';
import type { EngineOptions as _depot_builder_v1_EngineOptions, EngineOptions__Output as _depot_builder_v1_EngineOptions__Output } from './depot/builder/v1/EngineOptions.js';
import type { Entry as _depot_builder_v1_Entry, Entry__Output as _depot_builder_v1_Entry__Output } from './depot/builder/v1/Entry.js';
import type { ExportChunk as _depot_builder_v1_ExportChunk, ExportChunk__Output as _depot_builder_v1_ExportChunk__Output } from './depot/builder/v1/ExportChunk.js';
import type { ExportRequest as _depot_builder_v1_ExportRequest, ExportRequest__Output as _depot_builder_v1_ExportRequest__Output } from './depot/builder/v1/ExportRequest.js';
import type { ExportSummary as _depot_builder_v1_ExportSummary, ExportSummary__Output as _depot_builder_v1_ExportSummary__Output } from './depot/builder/v1/ExportSummary.js';
import type { HelloRequest as _depot_builder_v1_HelloRequest, HelloRequest__Output as _depot_builder_v1_HelloRequest__Output } from './depot/builder/v1/HelloRequest.js';
import type { HelloResponse as _depot_builder_v1_HelloResponse, HelloResponse__Output as _depot_builder_v1_HelloResponse__Output } from './depot/builder/v1/HelloResponse.js';
import type { InstallReuse as _depot_builder_v1_InstallReuse, InstallReuse__Output as _depot_builder_v1_InstallReuse__Output } from './depot/builder/v1/InstallReuse.js';
import type { ListBuildsRequest as _depot_builder_v1_ListBuildsRequest, ListBuildsRequest__Output as _depot_builder_v1_ListBuildsRequest__Output } from './depot/builder/v1/ListBuildsRequest.js';
import type { ListBuildsResponse as _depot_builder_v1_ListBuildsResponse, ListBuildsResponse__Output as _depot_builder_v1_ListBuildsResponse__Output } from './depot/builder/v1/ListBuildsResponse.js';
import type { Manifest as _depot_builder_v1_Manifest, Manifest__Output as _depot_builder_v1_Manifest__Output } from './depot/builder/v1/Manifest.js';
import type { ManifestDelta as _depot_builder_v1_ManifestDelta, ManifestDelta__Output as _depot_builder_v1_ManifestDelta__Output } from './depot/builder/v1/ManifestDelta.js';
import type { NeedBlobs as _depot_builder_v1_NeedBlobs, NeedBlobs__Output as _depot_builder_v1_NeedBlobs__Output } from './depot/builder/v1/NeedBlobs.js';
import type { OutputEntry as _depot_builder_v1_OutputEntry, OutputEntry__Output as _depot_builder_v1_OutputEntry__Output } from './depot/builder/v1/OutputEntry.js';
import type { OutputEvent as _depot_builder_v1_OutputEvent, OutputEvent__Output as _depot_builder_v1_OutputEvent__Output } from './depot/builder/v1/OutputEvent.js';
import type { OutputHave as _depot_builder_v1_OutputHave, OutputHave__Output as _depot_builder_v1_OutputHave__Output } from './depot/builder/v1/OutputHave.js';
import type { OutputRequest as _depot_builder_v1_OutputRequest, OutputRequest__Output as _depot_builder_v1_OutputRequest__Output } from './depot/builder/v1/OutputRequest.js';
import type { OutputSummary as _depot_builder_v1_OutputSummary, OutputSummary__Output as _depot_builder_v1_OutputSummary__Output } from './depot/builder/v1/OutputSummary.js';
import type { PushedImage as _depot_builder_v1_PushedImage, PushedImage__Output as _depot_builder_v1_PushedImage__Output } from './depot/builder/v1/PushedImage.js';
import type { RegistryAuth as _depot_builder_v1_RegistryAuth, RegistryAuth__Output as _depot_builder_v1_RegistryAuth__Output } from './depot/builder/v1/RegistryAuth.js';
import type { SnapshotReady as _depot_builder_v1_SnapshotReady, SnapshotReady__Output as _depot_builder_v1_SnapshotReady__Output } from './depot/builder/v1/SnapshotReady.js';
import type { SshFrame as _depot_builder_v1_SshFrame, SshFrame__Output as _depot_builder_v1_SshFrame__Output } from './depot/builder/v1/SshFrame.js';
import type { StatsBucket as _depot_builder_v1_StatsBucket, StatsBucket__Output as _depot_builder_v1_StatsBucket__Output } from './depot/builder/v1/StatsBucket.js';
import type { StatsGroup as _depot_builder_v1_StatsGroup, StatsGroup__Output as _depot_builder_v1_StatsGroup__Output } from './depot/builder/v1/StatsGroup.js';
import type { StatsRequest as _depot_builder_v1_StatsRequest, StatsRequest__Output as _depot_builder_v1_StatsRequest__Output } from './depot/builder/v1/StatsRequest.js';
import type { StatsResponse as _depot_builder_v1_StatsResponse, StatsResponse__Output as _depot_builder_v1_StatsResponse__Output } from './depot/builder/v1/StatsResponse.js';
import type { StatsTotals as _depot_builder_v1_StatsTotals, StatsTotals__Output as _depot_builder_v1_StatsTotals__Output } from './depot/builder/v1/StatsTotals.js';
import type { StepCause as _depot_builder_v1_StepCause, StepCause__Output as _depot_builder_v1_StepCause__Output } from './depot/builder/v1/StepCause.js';
import type { StepCost as _depot_builder_v1_StepCost, StepCost__Output as _depot_builder_v1_StepCost__Output } from './depot/builder/v1/StepCost.js';
import type { StepCostsRequest as _depot_builder_v1_StepCostsRequest, StepCostsRequest__Output as _depot_builder_v1_StepCostsRequest__Output } from './depot/builder/v1/StepCostsRequest.js';
import type { StepCostsResponse as _depot_builder_v1_StepCostsResponse, StepCostsResponse__Output as _depot_builder_v1_StepCostsResponse__Output } from './depot/builder/v1/StepCostsResponse.js';
import type { StepExplained as _depot_builder_v1_StepExplained, StepExplained__Output as _depot_builder_v1_StepExplained__Output } from './depot/builder/v1/StepExplained.js';
import type { StepLayer as _depot_builder_v1_StepLayer, StepLayer__Output as _depot_builder_v1_StepLayer__Output } from './depot/builder/v1/StepLayer.js';
import type { StepSaved as _depot_builder_v1_StepSaved, StepSaved__Output as _depot_builder_v1_StepSaved__Output } from './depot/builder/v1/StepSaved.js';
import type { SyncBegin as _depot_builder_v1_SyncBegin, SyncBegin__Output as _depot_builder_v1_SyncBegin__Output } from './depot/builder/v1/SyncBegin.js';
import type { SyncRequest as _depot_builder_v1_SyncRequest, SyncRequest__Output as _depot_builder_v1_SyncRequest__Output } from './depot/builder/v1/SyncRequest.js';
import type { SyncResponse as _depot_builder_v1_SyncResponse, SyncResponse__Output as _depot_builder_v1_SyncResponse__Output } from './depot/builder/v1/SyncResponse.js';
import type { TraceCut as _depot_builder_v1_TraceCut, TraceCut__Output as _depot_builder_v1_TraceCut__Output } from './depot/builder/v1/TraceCut.js';
import type { TracedEvent as _depot_builder_v1_TracedEvent, TracedEvent__Output as _depot_builder_v1_TracedEvent__Output } from './depot/builder/v1/TracedEvent.js';
import type { Vertex as _depot_builder_v1_Vertex, Vertex__Output as _depot_builder_v1_Vertex__Output } from './depot/builder/v1/Vertex.js';
import type { VertexLog as _depot_builder_v1_VertexLog, VertexLog__Output as _depot_builder_v1_VertexLog__Output } from './depot/builder/v1/VertexLog.js';
import type { VertexStatus as _depot_builder_v1_VertexStatus, VertexStatus__Output as _depot_builder_v1_VertexStatus__Output } from './depot/builder/v1/VertexStatus.js';
import type { WatchBuildsRequest as _depot_builder_v1_WatchBuildsRequest, WatchBuildsRequest__Output as _depot_builder_v1_WatchBuildsRequest__Output } from './depot/builder/v1/WatchBuildsRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  depot: {
    builder: {
      v1: {
        BlobChunk: MessageTypeDefinition<_depot_builder_v1_BlobChunk, _depot_builder_v1_BlobChunk__Output>
        BuildEvent: MessageTypeDefinition<_depot_builder_v1_BuildEvent, _depot_builder_v1_BuildEvent__Output>
        BuildRecord: MessageTypeDefinition<_depot_builder_v1_BuildRecord, _depot_builder_v1_BuildRecord__Output>
        BuildRequest: MessageTypeDefinition<_depot_builder_v1_BuildRequest, _depot_builder_v1_BuildRequest__Output>
        BuildResult: MessageTypeDefinition<_depot_builder_v1_BuildResult, _depot_builder_v1_BuildResult__Output>
        BuildSummary: MessageTypeDefinition<_depot_builder_v1_BuildSummary, _depot_builder_v1_BuildSummary__Output>
        BuildTraceChunk: MessageTypeDefinition<_depot_builder_v1_BuildTraceChunk, _depot_builder_v1_BuildTraceChunk__Output>
        BuildTraceHeader: MessageTypeDefinition<_depot_builder_v1_BuildTraceHeader, _depot_builder_v1_BuildTraceHeader__Output>
        BuildTraceRequest: MessageTypeDefinition<_depot_builder_v1_BuildTraceRequest, _depot_builder_v1_BuildTraceRequest__Output>
        Builder: SubtypeConstructor<typeof grpc.Client, _depot_builder_v1_BuilderClient> & { service: _depot_builder_v1_BuilderDefinition }
        CacheBuster: MessageTypeDefinition<_depot_builder_v1_CacheBuster, _depot_builder_v1_CacheBuster__Output>
        CascadeCost: MessageTypeDefinition<_depot_builder_v1_CascadeCost, _depot_builder_v1_CascadeCost__Output>
        CauseCount: MessageTypeDefinition<_depot_builder_v1_CauseCount, _depot_builder_v1_CauseCount__Output>
        EngineOptions: MessageTypeDefinition<_depot_builder_v1_EngineOptions, _depot_builder_v1_EngineOptions__Output>
        Entry: MessageTypeDefinition<_depot_builder_v1_Entry, _depot_builder_v1_Entry__Output>
        EntryType: EnumTypeDefinition
        ExportChunk: MessageTypeDefinition<_depot_builder_v1_ExportChunk, _depot_builder_v1_ExportChunk__Output>
        ExportRequest: MessageTypeDefinition<_depot_builder_v1_ExportRequest, _depot_builder_v1_ExportRequest__Output>
        ExportSummary: MessageTypeDefinition<_depot_builder_v1_ExportSummary, _depot_builder_v1_ExportSummary__Output>
        HelloRequest: MessageTypeDefinition<_depot_builder_v1_HelloRequest, _depot_builder_v1_HelloRequest__Output>
        HelloResponse: MessageTypeDefinition<_depot_builder_v1_HelloResponse, _depot_builder_v1_HelloResponse__Output>
        InstallReuse: MessageTypeDefinition<_depot_builder_v1_InstallReuse, _depot_builder_v1_InstallReuse__Output>
        ListBuildsRequest: MessageTypeDefinition<_depot_builder_v1_ListBuildsRequest, _depot_builder_v1_ListBuildsRequest__Output>
        ListBuildsResponse: MessageTypeDefinition<_depot_builder_v1_ListBuildsResponse, _depot_builder_v1_ListBuildsResponse__Output>
        Manifest: MessageTypeDefinition<_depot_builder_v1_Manifest, _depot_builder_v1_Manifest__Output>
        ManifestDelta: MessageTypeDefinition<_depot_builder_v1_ManifestDelta, _depot_builder_v1_ManifestDelta__Output>
        NeedBlobs: MessageTypeDefinition<_depot_builder_v1_NeedBlobs, _depot_builder_v1_NeedBlobs__Output>
        OutputEntry: MessageTypeDefinition<_depot_builder_v1_OutputEntry, _depot_builder_v1_OutputEntry__Output>
        OutputEvent: MessageTypeDefinition<_depot_builder_v1_OutputEvent, _depot_builder_v1_OutputEvent__Output>
        OutputHave: MessageTypeDefinition<_depot_builder_v1_OutputHave, _depot_builder_v1_OutputHave__Output>
        OutputRequest: MessageTypeDefinition<_depot_builder_v1_OutputRequest, _depot_builder_v1_OutputRequest__Output>
        OutputSummary: MessageTypeDefinition<_depot_builder_v1_OutputSummary, _depot_builder_v1_OutputSummary__Output>
        PushedImage: MessageTypeDefinition<_depot_builder_v1_PushedImage, _depot_builder_v1_PushedImage__Output>
        RegistryAuth: MessageTypeDefinition<_depot_builder_v1_RegistryAuth, _depot_builder_v1_RegistryAuth__Output>
        SnapshotReady: MessageTypeDefinition<_depot_builder_v1_SnapshotReady, _depot_builder_v1_SnapshotReady__Output>
        SshFrame: MessageTypeDefinition<_depot_builder_v1_SshFrame, _depot_builder_v1_SshFrame__Output>
        StatsBucket: MessageTypeDefinition<_depot_builder_v1_StatsBucket, _depot_builder_v1_StatsBucket__Output>
        StatsGroup: MessageTypeDefinition<_depot_builder_v1_StatsGroup, _depot_builder_v1_StatsGroup__Output>
        StatsRequest: MessageTypeDefinition<_depot_builder_v1_StatsRequest, _depot_builder_v1_StatsRequest__Output>
        StatsResponse: MessageTypeDefinition<_depot_builder_v1_StatsResponse, _depot_builder_v1_StatsResponse__Output>
        StatsTotals: MessageTypeDefinition<_depot_builder_v1_StatsTotals, _depot_builder_v1_StatsTotals__Output>
        StepCause: MessageTypeDefinition<_depot_builder_v1_StepCause, _depot_builder_v1_StepCause__Output>
        StepCost: MessageTypeDefinition<_depot_builder_v1_StepCost, _depot_builder_v1_StepCost__Output>
        StepCostsRequest: MessageTypeDefinition<_depot_builder_v1_StepCostsRequest, _depot_builder_v1_StepCostsRequest__Output>
        StepCostsResponse: MessageTypeDefinition<_depot_builder_v1_StepCostsResponse, _depot_builder_v1_StepCostsResponse__Output>
        StepExplained: MessageTypeDefinition<_depot_builder_v1_StepExplained, _depot_builder_v1_StepExplained__Output>
        StepLayer: MessageTypeDefinition<_depot_builder_v1_StepLayer, _depot_builder_v1_StepLayer__Output>
        StepSaved: MessageTypeDefinition<_depot_builder_v1_StepSaved, _depot_builder_v1_StepSaved__Output>
        SyncBegin: MessageTypeDefinition<_depot_builder_v1_SyncBegin, _depot_builder_v1_SyncBegin__Output>
        SyncRequest: MessageTypeDefinition<_depot_builder_v1_SyncRequest, _depot_builder_v1_SyncRequest__Output>
        SyncResponse: MessageTypeDefinition<_depot_builder_v1_SyncResponse, _depot_builder_v1_SyncResponse__Output>
        TraceCut: MessageTypeDefinition<_depot_builder_v1_TraceCut, _depot_builder_v1_TraceCut__Output>
        TracedEvent: MessageTypeDefinition<_depot_builder_v1_TracedEvent, _depot_builder_v1_TracedEvent__Output>
        Vertex: MessageTypeDefinition<_depot_builder_v1_Vertex, _depot_builder_v1_Vertex__Output>
        VertexLog: MessageTypeDefinition<_depot_builder_v1_VertexLog, _depot_builder_v1_VertexLog__Output>
        VertexStatus: MessageTypeDefinition<_depot_builder_v1_VertexStatus, _depot_builder_v1_VertexStatus__Output>
        WatchBuildsRequest: MessageTypeDefinition<_depot_builder_v1_WatchBuildsRequest, _depot_builder_v1_WatchBuildsRequest__Output>
      }
    }
  }
}

