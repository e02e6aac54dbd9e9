import { createHash } from 'node:crypto';

/** Layer chain ids of a stack of diff ids, bottom first: C0 = D0, Cn = sha256(Cn-1 + " " + Dn). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let prev = '';
  for (const d of diffIds) {
    prev = prev === '' ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`;
    out.push(prev);
  }
  return out;
}
