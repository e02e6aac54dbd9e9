// Bundles each binary into dist/bundle: one ESM entry per binary plus shared chunks that load on
// first use (`import()`), so start-up reads a few files instead of hundreds from node_modules.
// Writes dist/bundle/meta.json (esbuild's metafile) for the start-up import check.
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = 'dist/bundle';
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  entryPoints: {
    depot: 'src/cli/bin.ts',
    'depot-builder': 'builder-host/src/bin.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  metafile: true,
  // Error classes (commander's among them) take their name from the constructor, and callers match on it.
  keepNames: true,
  logLevel: 'warning',
  // Native addons (and the optional keychain one) load their .node files from node_modules.
  // react-devtools-core: Ink imports it only when DEV=true, and it is not installed.
  // pg-native: pg's optional libpq binding, loaded only when asked for (never, here).
  external: ['better-sqlite3', 'keytar', 'cpu-features', 'ssh2', 'react-devtools-core', 'pg-native'],
  // CommonJS dependencies call require(); an ESM bundle has no require of its own. The banner
  // lands in every chunk (esbuild repeats it), so the names are private to each.
  banner: {
    js: [
      "import { createRequire as __depotCreateRequire } from 'node:module';",
      'const require = __depotCreateRequire(import.meta.url);',
    ].join('\n'),
  },
});

writeFileSync(`${outdir}/meta.json`, JSON.stringify(result.metafile));
for (const bin of ['depot', 'depot-builder']) chmodSync(`${outdir}/${bin}.mjs`, 0o755);
