import { BlockList, isIP } from 'node:net';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * Whether a host name or address stays on this machine: 127.0.0.0/8, ::1 or `localhost`. Nothing
 * is resolved (no DNS look-up): any other name counts as remote, which is the safe answer.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  if (family === 4) return loopback.check(h, 'ipv4');
  if (family === 6) return loopback.check(h, 'ipv6');
  return false;
}

/**
 * Whether a gRPC address (`HOST:PORT`, `[V6]:PORT` or `unix:PATH`) is reachable only from this
 * machine: a unix socket or a loopback host.
 */
export function isLocalAddress(address: string): boolean {
  if (address.startsWith('unix:')) return true;
  const m = /^(\[[^\]]*\]|[^:]*|.*):(\d+)$/.exec(address);
  return isLoopbackHost(m ? m[1]! : address);
}
