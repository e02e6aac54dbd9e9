// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface BuildSummary {
  'buildId'?: (string);
  'project'?: (string);
  'user'?: (string);
  'platform'?: (string);
  'startedMs'?: (number | string | Long);
  /**
   * 0 while running.
   */
  'finishedMs'?: (number | string | Long);
  /**
   * "running", "ok", "failed", "cancelled"
   */
  'result'?: (string);
  'steps'?: (number);
  'cachedSteps'?: (number);
  'savedMs'?: (number | string | Long);
  /**
   * The id of the builder that ran it (Hello's builder_id): with a history shared by a fleet,
   * Stats and WatchBuilds of any builder list the builds of all. '' from older builders.
   */
  'builder'?: (string);
}

export interface BuildSummary__Output {
  'buildId': (string);
  'project': (string);
  'user': (string);
  'platform': (string);
  'startedMs': (number);
  /**
   * 0 while running.
   */
  'finishedMs': (number);
  /**
   * "running", "ok", "failed", "cancelled"
   */
  'result': (string);
  'steps': (number);
  'cachedSteps': (number);
  'savedMs': (number);
  /**
   * The id of the builder that ran it (Hello's builder_id): with a history shared by a fleet,
   * Stats and WatchBuilds of any builder list the builds of all. '' from older builders.
   */
  'builder': (string);
}
