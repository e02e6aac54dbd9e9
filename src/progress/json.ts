import type { BuildEvent } from './events.js';
import type { ProgressRenderer } from './plain.js';

/** `--progress json`: each event as one JSON object per line, exactly as received (see JSON_FORMAT.md). */
export function createJsonRenderer(write: (s: string) => void): ProgressRenderer {
  let closed = false;
  return {
    handle(event: BuildEvent) {
      if (!closed) write(`${JSON.stringify(event)}\n`);
    },
    close() {
      closed = true;
    },
  };
}

/** Parses `--progress json` output (one event per line; blank lines skipped) back into events. */
export function parseEventLines(text: string): BuildEvent[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as BuildEvent);
}
