// Regenerates the typed TypeScript view of proto/ into src/protocol/generated (never edit by hand).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const out = 'src/protocol/generated';
rmSync(out, { recursive: true, force: true });
execFileSync(
  'node_modules/.bin/proto-loader-gen-types',
  [
    'depot/builder/v1/builder.proto',
    '--longs=Number',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    `--outDir=${out}`,
    '--importFileExtension=.js',
    '--includeComments',
    '--includeDirs=proto',
  ],
  { stdio: 'inherit' },
);
