// Original file: proto/depot/builder/v1/builder.proto

import type { RegistryAuth as _depot_builder_v1_RegistryAuth, RegistryAuth__Output as _depot_builder_v1_RegistryAuth__Output } from '../../../depot/builder/v1/RegistryAuth.js';
import type { EngineOptions as _depot_builder_v1_EngineOptions, EngineOptions__Output as _depot_builder_v1_EngineOptions__Output } from '../../../depot/builder/v1/EngineOptions.js';
import type { OutputRequest as _depot_builder_v1_OutputRequest, OutputRequest__Output as _depot_builder_v1_OutputRequest__Output } from '../../../depot/builder/v1/OutputRequest.js';

export interface BuildRequest {
  'snapshotId'?: (string);
  /**
   * Path of the Dockerfile inside the snapshot, or empty when `dockerfile_content` is set.
   */
  'dockerfilePath'?: (string);
  /**
   * Dockerfile given from stdin or from outside the context.
   */
  'dockerfileContent'?: (Buffer | Uint8Array | string);
  'buildArgs'?: ({[key: string]: string});
  'target'?: (string);
  'platform'?: (string);
  'tags'?: (string)[];
  'noCache'?: (boolean);
  'pull'?: (boolean);
  'labels'?: ({[key: string]: string});
  /**
   * Chosen by the client so that it can be cancelled and correlated.
   */
  'buildId'?: (string);
  /**
   * Push every tag (by digest) to its registry after a good build.
   */
  'push'?: (boolean);
  /**
   * Registry credentials for this build only, by registry host (e.g. "127.0.0.1:5000",
   * "https://index.docker.io/v1/"). Held in memory; never written to disk or logs.
   */
  'registryAuth'?: ({[key: string]: _depot_builder_v1_RegistryAuth});
  /**
   * Build secrets (`--secret id=ID,...`) by id, for this build only. Served to BuildKit through
   * the build's session; held in memory, never written to disk, logs or history. Needs the
   * "build.secrets" capability.
   */
  'secrets'?: ({[key: string]: Buffer | Uint8Array | string});
  /**
   * SSH agent ids this build forwards (`--ssh default|ID=SOCKET`); the agent traffic travels
   * over ForwardSsh streams the client opens for this build. Needs the "build.ssh" capability.
   */
  'sshIds'?: (string)[];
  /**
   * The client will Export the result (`--load`): the builder keeps the result's name on its
   * engine from the build's end until that Export (or, if none comes, for a while), whatever its
   * garbage collection's window.
   */
  'load'?: (boolean);
  /**
   * The snapshot holds only what the Dockerfile can read (`context_scoped`): the paths and patterns
   * of `context_scope` (COPY/ADD sources, bind-mount sources, the Dockerfile and .dockerignore,
   * symlink targets on the way), each with everything below it. When the engine asks the build's
   * session for a context path outside them, the build fails with code "context_incomplete" and
   * the client syncs the whole context and builds again. Needs the "context.scoped" capability.
   */
  'contextScoped'?: (boolean);
  'contextScope'?: (string)[];
  /**
   * docker build's engine flags (`--network`, `--add-host`, `--cache-from`, …), as the engine's
   * /build takes them; checked and bounded by the builder. Needs the "build.engine-options" capability.
   */
  'engineOptions'?: (_depot_builder_v1_EngineOptions | null);
  /**
   * Export the build's files to the client (`-o type=local|tar`) instead of keeping an image: they
   * arrive as BuildEvent.output events before the result. Needs the "build.output.local" (or
   * "build.output.tar") capability.
   */
  'output'?: (_depot_builder_v1_OutputRequest | null);
}

export interface BuildRequest__Output {
  'snapshotId': (string);
  /**
   * Path of the Dockerfile inside the snapshot, or empty when `dockerfile_content` is set.
   */
  'dockerfilePath': (string);
  /**
   * Dockerfile given from stdin or from outside the context.
   */
  'dockerfileContent': (Buffer);
  'buildArgs': ({[key: string]: string});
  'target': (string);
  'platform': (string);
  'tags': (string)[];
  'noCache': (boolean);
  'pull': (boolean);
  'labels': ({[key: string]: string});
  /**
   * Chosen by the client so that it can be cancelled and correlated.
   */
  'buildId': (string);
  /**
   * Push every tag (by digest) to its registry after a good build.
   */
  'push': (boolean);
  /**
   * Registry credentials for this build only, by registry host (e.g. "127.0.0.1:5000",
   * "https://index.docker.io/v1/"). Held in memory; never written to disk or logs.
   */
  'registryAuth': ({[key: string]: _depot_builder_v1_RegistryAuth__Output});
  /**
   * Build secrets (`--secret id=ID,...`) by id, for this build only. Served to BuildKit through
   * the build's session; held in memory, never written to disk, logs or history. Needs the
   * "build.secrets" capability.
   */
  'secrets': ({[key: string]: Buffer});
  /**
   * SSH agent ids this build forwards (`--ssh default|ID=SOCKET`); the agent traffic travels
   * over ForwardSsh streams the client opens for this build. Needs the "build.ssh" capability.
   */
  'sshIds': (string)[];
  /**
   * The client will Export the result (`--load`): the builder keeps the result's name on its
   * engine from the build's end until that Export (or, if none comes, for a while), whatever its
   * garbage collection's window.
   */
  'load': (boolean);
  /**
   * The snapshot holds only what the Dockerfile can read (`context_scoped`): the paths and patterns
   * of `context_scope` (COPY/ADD sources, bind-mount sources, the Dockerfile and .dockerignore,
   * symlink targets on the way), each with everything below it. When the engine asks the build's
   * session for a context path outside them, the build fails with code "context_incomplete" and
   * the client syncs the whole context and builds again. Needs the "context.scoped" capability.
   */
  'contextScoped': (boolean);
  'contextScope': (string)[];
  /**
   * docker build's engine flags (`--network`, `--add-host`, `--cache-from`, …), as the engine's
   * /build takes them; checked and bounded by the builder. Needs the "build.engine-options" capability.
   */
  'engineOptions': (_depot_builder_v1_EngineOptions__Output | null);
  /**
   * Export the build's files to the client (`-o type=local|tar`) instead of keeping an image: they
   * arrive as BuildEvent.output events before the result. Needs the "build.output.local" (or
   * "build.output.tar") capability.
   */
  'output': (_depot_builder_v1_OutputRequest__Output | null);
}
