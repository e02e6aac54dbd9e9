/**
 * Test-only fault injection: `DEPOT_TEST_CRASH_AT=<point>` kills this process with SIGKILL when it
 * reaches that point, so crash tests can stop a real builder at a precise step (no flush, no
 * cleanup, as a power cut or an OOM kill would). Never set it outside tests.
 */
export function crashPoint(
  point: 'mid-upload' | 'pack-synced' | 'pack-renamed' | 'before-claim' | 'after-claim',
): void {
  if (process.env.DEPOT_TEST_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * Test-only: `DEPOT_TEST_DELAY_BEFORE_CLAIM_MS=<ms>` holds every sync that long between storing
 * its blobs and claiming them, the window in which a collection must not take them.
 */
export async function delayPoint(): Promise<void> {
  const ms = Number(process.env.DEPOT_TEST_DELAY_BEFORE_CLAIM_MS);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}
