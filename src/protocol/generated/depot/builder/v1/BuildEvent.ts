// Original file: proto/depot/builder/v1/builder.proto

import type { Vertex as _depot_builder_v1_Vertex, Vertex__Output as _depot_builder_v1_Vertex__Output } from '../../../depot/builder/v1/Vertex.js';
import type { VertexStatus as _depot_builder_v1_VertexStatus, VertexStatus__Output as _depot_builder_v1_VertexStatus__Output } from '../../../depot/builder/v1/VertexStatus.js';
import type { VertexLog as _depot_builder_v1_VertexLog, VertexLog__Output as _depot_builder_v1_VertexLog__Output } from '../../../depot/builder/v1/VertexLog.js';
import type { BuildResult as _depot_builder_v1_BuildResult, BuildResult__Output as _depot_builder_v1_BuildResult__Output } from '../../../depot/builder/v1/BuildResult.js';
import type { StepExplained as _depot_builder_v1_StepExplained, StepExplained__Output as _depot_builder_v1_StepExplained__Output } from '../../../depot/builder/v1/StepExplained.js';
import type { OutputEvent as _depot_builder_v1_OutputEvent, OutputEvent__Output as _depot_builder_v1_OutputEvent__Output } from '../../../depot/builder/v1/OutputEvent.js';
import type { StepSaved as _depot_builder_v1_StepSaved, StepSaved__Output as _depot_builder_v1_StepSaved__Output } from '../../../depot/builder/v1/StepSaved.js';
import type { StepLayer as _depot_builder_v1_StepLayer, StepLayer__Output as _depot_builder_v1_StepLayer__Output } from '../../../depot/builder/v1/StepLayer.js';

export interface BuildEvent {
  'vertex'?: (_depot_builder_v1_Vertex | null);
  'status'?: (_depot_builder_v1_VertexStatus | null);
  'log'?: (_depot_builder_v1_VertexLog | null);
  'result'?: (_depot_builder_v1_BuildResult | null);
  /**
   * Daemon text output that is not part of a vertex (e.g. warnings).
   */
  'message'?: (string);
  /**
   * Why a step was not cached, sent once it is known.
   */
  'explained'?: (_depot_builder_v1_StepExplained | null);
  /**
   * Builder text that informs rather than warns (e.g. how much context reached the engine).
   */
  'info'?: (string);
  /**
   * The build's output (BuildRequest.output).
   */
  'output'?: (_depot_builder_v1_OutputEvent | null);
  /**
   * What a step the cache answered would have run cold, sent once it is known.
   */
  'saved'?: (_depot_builder_v1_StepSaved | null);
  /**
   * The size of the layer a step produced in the built image, sent once the image exists.
   */
  'layer'?: (_depot_builder_v1_StepLayer | null);
  'event'?: "vertex"|"status"|"log"|"result"|"message"|"explained"|"info"|"output"|"saved"|"layer";
}

export interface BuildEvent__Output {
  'vertex'?: (_depot_builder_v1_Vertex__Output | null);
  'status'?: (_depot_builder_v1_VertexStatus__Output | null);
  'log'?: (_depot_builder_v1_VertexLog__Output | null);
  'result'?: (_depot_builder_v1_BuildResult__Output | null);
  /**
   * Daemon text output that is not part of a vertex (e.g. warnings).
   */
  'message'?: (string);
  /**
   * Why a step was not cached, sent once it is known.
   */
  'explained'?: (_depot_builder_v1_StepExplained__Output | null);
  /**
   * Builder text that informs rather than warns (e.g. how much context reached the engine).
   */
  'info'?: (string);
  /**
   * The build's output (BuildRequest.output).
   */
  'output'?: (_depot_builder_v1_OutputEvent__Output | null);
  /**
   * What a step the cache answered would have run cold, sent once it is known.
   */
  'saved'?: (_depot_builder_v1_StepSaved__Output | null);
  /**
   * The size of the layer a step produced in the built image, sent once the image exists.
   */
  'layer'?: (_depot_builder_v1_StepLayer__Output | null);
  'event'?: "vertex"|"status"|"log"|"result"|"message"|"explained"|"info"|"output"|"saved"|"layer";
}
