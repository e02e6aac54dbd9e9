import * as grpc from '@grpc/grpc-js';
import { AUTH_METADATA_KEY, PROJECT_METADATA_KEY } from '../../../src/protocol/index.js';
import type { TokenRecord } from '../auth/index.js';
import type { ProjectStore } from '../store/index.js';
import type { ImageNamespace, ImageNamespaces } from './image-namespace.js';
import { ADMIN_PROJECT, PROJECT_NAME } from './project-name.js';
import { RpcError } from './rpc-error.js';

export { ADMIN_PROJECT, PROJECT_NAME };

/** Checks a bearer token; undefined when unknown or revoked. */
export interface TokenVerifier {
  verify(token: string): Promise<TokenRecord | undefined>;
}

/**
 * What a handler knows of its caller: who it is and the project-scoped things it may use. Made once
 * per call; handlers never see the shared store or another project's names.
 */
export interface CallContext {
  project: string;
  user: string;
  /** An admin token (project "*"): may use any project and read every project's history. */
  admin: boolean;
  /** Blobs and snapshots as the project sees them. */
  store: ProjectStore;
  /** The names of the project's images on the shared engine. */
  images: ImageNamespace;
  /** Whose history the caller may read: its own project, or for an admin the one asked for, else all. */
  historyProject: string | undefined;
}

export interface Authorizer {
  /** Resolves the caller of one RPC from its token and metadata; RpcError otherwise. */
  authorize(call: { metadata: grpc.Metadata }): Promise<CallContext>;
}

export function createAuthorizer(deps: {
  tokens: TokenVerifier;
  stores: { forProject(project: string): ProjectStore };
  namespaces: ImageNamespaces;
  /** The projects this builder serves (serve --projects); undefined: every project. */
  projects?: readonly string[];
}): Authorizer {
  const { tokens, stores, namespaces } = deps;
  const served = deps.projects?.length ? new Set(deps.projects) : undefined;
  // Admin tokens included: a builder kept for some projects never builds for another.
  const check = (project: string) => {
    if (served && !served.has(project))
      throw new RpcError(
        grpc.status.PERMISSION_DENIED,
        `this builder serves only project${served.size === 1 ? '' : 's'} ${[...served].join(', ')}, not "${project}": use a builder of project "${project}" (depot builders ls)`,
      );
  };
  const resolve = async (
    metadata: grpc.Metadata,
  ): Promise<{ project: string; user: string; admin: boolean; asked: string }> => {
    const header = String(metadata.get(AUTH_METADATA_KEY)[0] ?? '');
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const record = token ? await tokens.verify(token) : undefined;
    if (!record || record.revoked)
      throw new RpcError(
        grpc.status.UNAUTHENTICATED,
        'invalid or missing token: run `depot login --builder URL` or pass --token',
      );
    const asked = String(metadata.get(PROJECT_METADATA_KEY)[0] ?? '');
    if (asked && !PROJECT_NAME.test(asked))
      throw new RpcError(
        grpc.status.INVALID_ARGUMENT,
        `invalid project ${JSON.stringify(asked.slice(0, 64))}: use letters, digits, ".", "_" and "-" (up to 128)`,
      );
    if (record.project === ADMIN_PROJECT)
      return { project: asked || 'default', user: record.user, admin: true, asked };
    if (asked && asked !== record.project)
      throw new RpcError(
        grpc.status.PERMISSION_DENIED,
        `token of project "${record.project}" cannot use project "${asked}"`,
      );
    return { project: record.project, user: record.user, admin: false, asked };
  };
  return {
    async authorize(call) {
      const who = await resolve(call.metadata);
      check(who.project);
      return {
        project: who.project,
        user: who.user,
        admin: who.admin,
        store: stores.forProject(who.project),
        images: namespaces.forProject(who.project),
        historyProject: who.admin ? who.asked || undefined : who.project,
      };
    },
  };
}
