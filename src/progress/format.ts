/**
 * Number formatting shared by the plain renderer and the Ink views. Byte sizes follow
 * go-units `HumanSize` (decimal units, 4 significant digits) and fixed-point seconds follow
 * Go's `%.Nf` (round half to even on the exact binary value), so output matches BuildKit's.
 */

// The leaf module, not src/protocol's index: progress must not load gRPC.
import { formatBytes } from '../protocol/bytes.js';

export { formatBytes };

/** Wall-clock duration: `0.3s`, `12.5s` under a minute, then `1m2s`, `1h2m3s`. */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const tenths = goFixed(safe / 1000, 1);
  if (Number(tenths) < 60) return `${tenths}s`;
  const total = Math.round(safe / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`;
}

/** Seconds with `digits` decimals exactly as Go's `%.<digits>f` prints them (BuildKit's `DONE 0.3s`). */
export function formatSeconds(ms: number, digits = 1): string {
  return goFixed(Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0, digits);
}

/** `sha256:0123456789ab`: the algorithm and the first 12 hex digits, like `docker images`. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  if (colon < 0) return digest.slice(0, 12);
  return `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

/**
 * `sha256:3f1a…9c2e`: the algorithm, the first and the last four hex digits — a digest to tell
 * apart by eye (a step's cache key), where `shortDigest`'s twelve would crowd the line.
 */
export function elideDigest(digest: string): string {
  const colon = digest.indexOf(':');
  const hex = digest.slice(colon + 1);
  if (hex.length <= 9) return digest;
  return `${digest.slice(0, colon + 1)}${hex.slice(0, 4)}…${hex.slice(-4)}`;
}

// Go formats the exact binary value and breaks exact ties to even; JS toFixed breaks ties
// upwards, so round the exact decimal expansion ourselves.
function goFixed(x: number, digits: number): string {
  const neg = x < 0;
  const exact = Math.abs(x).toFixed(100);
  const [intPart = '0', frac = ''] = exact.split('.');
  const kept = frac.slice(0, digits);
  const rest = frac.slice(digits);
  let digitsStr = intPart + kept;
  const first = rest[0] ?? '0';
  const tail = rest.slice(1);
  const lastKept = Number(digitsStr[digitsStr.length - 1] ?? '0');
  const roundUp = first > '5' || (first === '5' && (/[1-9]/.test(tail) || lastKept % 2 === 1));
  if (roundUp) digitsStr = (BigInt(digitsStr) + 1n).toString().padStart(digitsStr.length, '0');
  const whole = digitsStr.slice(0, digitsStr.length - digits) || '0';
  const decimals = digitsStr.slice(digitsStr.length - digits);
  const out = digits > 0 ? `${whole}.${decimals}` : whole;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

/** Time left, to the second: `12s`, `1m2s`, `1h2m3s`; `?` when unknown (negative). */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** Counts, rate and ETA of long work, as one reads them. */
export interface ProgressFigures {
  files?: number;
  filesTotal?: number;
  bytes: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaMs: number;
}

/**
 * `1234/20000 files · 12.3MB/200MB · 13.4MB/s · ETA 14s`: the parts that are known (files only
 * when counted, a total only when known, the rate once measurable, the ETA once it can be told).
 */
export function formatProgress(p: ProgressFigures): string {
  const parts: string[] = [];
  if (p.filesTotal) parts.push(`${p.files ?? 0}/${p.filesTotal} file${p.filesTotal === 1 ? '' : 's'}`);
  parts.push(
    p.bytesTotal > 0 ? `${formatBytes(p.bytes)}/${formatBytes(p.bytesTotal)}` : formatBytes(p.bytes),
  );
  if (p.bytesPerSecond > 0) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (p.etaMs >= 0 && p.bytesTotal > 0) parts.push(`ETA ${formatEta(p.etaMs)}`);
  return parts.join(' · ');
}

/** The fraction done, by bytes when their total is known, else by files; null when neither is. */
export function progressRatio(p: ProgressFigures): number | null {
  if (p.bytesTotal > 0) return Math.min(1, Math.max(0, p.bytes / p.bytesTotal));
  if (p.filesTotal) return Math.min(1, Math.max(0, (p.files ?? 0) / p.filesTotal));
  return null;
}

/** A bar of `width` cells, `█` done and `░` left; all `░` when the ratio is unknown. */
export function progressBar(ratio: number | null, width: number): string {
  const w = Math.max(0, Math.floor(width));
  const full = ratio === null ? 0 : Math.min(w, Math.floor(ratio * w));
  return '█'.repeat(full) + '░'.repeat(w - full);
}
