// depot bake: build targets from bake files (docker-bake.hcl, docker-bake.json, compose.yaml).
// This side reads and resolves the definition; --print shows it as `docker buildx bake --print`.
import { DepotError } from '../errors/index.js';

export interface BakeCliOptions {
  file: string[];
  set: string[];
  print?: boolean;
}

/** Runs `depot bake [TARGET…]`: prints the resolved definition with --print. */
export async function runBake(targets: string[], o: BakeCliOptions): Promise<void> {
  if (!o.print)
    throw new DepotError(
      'bake_build_unavailable',
      'depot bake builds come in a later change; use --print',
      'depot bake --print shows the resolved targets',
    );
  const { bakePrintText } = await import('../bake/index.js');
  // Resolve everything before writing anything: a bad file prints one error and no half output.
  const text = bakePrintText({ files: o.file, targets, set: o.set });
  process.stdout.write(text);
}
