/**
 * Whether an instruction as the history keeps it (BuildKit's vertex text, possibly cut with "…")
 * is the one a finding names: same keyword (any case), same words; a cut text matches its prefix.
 * Pure, so the builder (cache busters) and `depot check` (cost lines) match steps the same way.
 */
export function sameInstruction(recorded: string, written: string): boolean {
  const norm = (s: string) => {
    const one = s
      .replace(/\\\r?\n/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    const sp = one.indexOf(' ');
    return sp < 0 ? one.toUpperCase() : `${one.slice(0, sp).toUpperCase()}${one.slice(sp)}`;
  };
  const a = norm(recorded);
  const b = norm(written);
  if (!a || !b) return false;
  if (a === b) return true;
  return a.endsWith('…') && a.length > 1 && b.startsWith(a.slice(0, -1));
}
