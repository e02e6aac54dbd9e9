// Byte sizes as both sides print them: docker's SI units (go-units HumanSize), one convention
// for the client's output and the builder's messages alike.

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Human byte size like go-units HumanSize: `123B`, `1.234kB`, `12kB`, `45.6MB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n}B`;
  const sign = n < 0 ? '-' : '';
  let size = Math.abs(n);
  let unit = 0;
  while (size >= 1000 && unit < BYTE_UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  // %.4g drops trailing zeros; Number() of toPrecision does the same for this range.
  return `${sign}${Number(size.toPrecision(4))}${BYTE_UNITS[unit]}`;
}
