import type { BuildErrorCode } from './types.js';

// Message texts observed from dockerd 20.10 / BuildKit 0.8 (see trace.test.ts and the
// integration tests); newer engines word a few of these differently, hence the alternatives.
const RULES: Array<[RegExp, BuildErrorCode]> = [
  [/context canceled$/i, 'cancelled'],
  [/target stage .+ could not be found/i, 'unknown_target'],
  [
    /failed to read dockerfile|dockerfile: no such file|cannot locate specified dockerfile/i,
    'dockerfile_not_found',
  ],
  [
    /dockerfile parse error|failed to parse dockerfile|the dockerfile cannot be empty|file with no instructions|no build stage in current context/i,
    'dockerfile_syntax',
  ],
  [
    /status code \[manifests [^\]]*\]: 40[13]|pull access denied|insufficient_scope|unauthorized: authentication required/i,
    'registry_denied',
  ],
  [/executor failed running|process ".*" did not complete successfully/i, 'step_failed'],
];

/** Maps an engine build error message to a stable code; 'build_failed' when nothing more specific fits. */
export function classifyBuildError(message: string): BuildErrorCode {
  for (const [re, code] of RULES) if (re.test(message)) return code;
  return 'build_failed';
}
