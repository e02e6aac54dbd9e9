// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The flags of `docker build` the builder passes to its engine's /build (same meaning as there).
 */
export interface EngineOptions {
  /**
   * "", "default", "none" or "host" (host needs the builder's "build.network.host" capability).
   */
  'network'?: (string);
  /**
   * `--add-host` entries, "HOST:IP" (IP may be "host-gateway").
   */
  'addHosts'?: (string)[];
  /**
   * `--shm-size` in bytes (0: the engine's default).
   */
  'shmSize'?: (number | string | Long);
  /**
   * `--ulimit` entries, "NAME=SOFT[:HARD]".
   */
  'ulimits'?: (string)[];
  /**
   * `--cache-from` image references (registry images whose inline cache may be reused).
   */
  'cacheFrom'?: (string)[];
  /**
   * `--cache-to type=inline`: the image carries its cache metadata for a later `--cache-from`.
   */
  'inlineCache'?: (boolean);
  /**
   * Resource flags (`--memory`, `--memory-swap`, `--cpu-shares`, `--cpu-period`, `--cpu-quota`,
   * `--cpuset-cpus`, `--cpuset-mems`): passed on; an engine that builds with BuildKit ignores them.
   */
  'memory'?: (number | string | Long);
  'memorySwap'?: (number | string | Long);
  'cpuShares'?: (number | string | Long);
  'cpuPeriod'?: (number | string | Long);
  'cpuQuota'?: (number | string | Long);
  'cpusetCpus'?: (string);
  'cpusetMems'?: (string);
}

/**
 * The flags of `docker build` the builder passes to its engine's /build (same meaning as there).
 */
export interface EngineOptions__Output {
  /**
   * "", "default", "none" or "host" (host needs the builder's "build.network.host" capability).
   */
  'network': (string);
  /**
   * `--add-host` entries, "HOST:IP" (IP may be "host-gateway").
   */
  'addHosts': (string)[];
  /**
   * `--shm-size` in bytes (0: the engine's default).
   */
  'shmSize': (number);
  /**
   * `--ulimit` entries, "NAME=SOFT[:HARD]".
   */
  'ulimits': (string)[];
  /**
   * `--cache-from` image references (registry images whose inline cache may be reused).
   */
  'cacheFrom': (string)[];
  /**
   * `--cache-to type=inline`: the image carries its cache metadata for a later `--cache-from`.
   */
  'inlineCache': (boolean);
  /**
   * Resource flags (`--memory`, `--memory-swap`, `--cpu-shares`, `--cpu-period`, `--cpu-quota`,
   * `--cpuset-cpus`, `--cpuset-mems`): passed on; an engine that builds with BuildKit ignores them.
   */
  'memory': (number);
  'memorySwap': (number);
  'cpuShares': (number);
  'cpuPeriod': (number);
  'cpuQuota': (number);
  'cpusetCpus': (string);
  'cpusetMems': (string);
}
