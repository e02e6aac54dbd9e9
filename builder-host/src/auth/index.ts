export type { AuthDecision } from './authorize.js';
export { authorize } from './authorize.js';
export { AuthError } from './errors.js';
export type {
  BearerVerifier,
  IssueTeamTokenOptions,
  RevocationListOptions,
  TeamSecret,
  TeamTokenClaims,
  TeamTokenVerifierOptions,
} from './team-token.js';
export {
  anyOfVerifiers,
  createRevocationList,
  createTeamTokenVerifier,
  issueTeamToken,
} from './team-token.js';
export type { TokenRecord, TokenStore, TokenStoreOptions } from './token-store.js';
export { createTokenStore } from './token-store.js';
