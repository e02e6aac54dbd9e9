import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { isLocalAddress } from '../protocol/index.js';
import type { BuilderAddress } from './client.js';
import { DepotError } from './errors.js';

/** How the client secures its connection to a builder. */
export interface ClientTransport {
  /** PEM file of the CA that signed the builder's certificate (DEPOT_TLS_CA). */
  caFile?: string;
  /** PEM client certificate and key for builders that require one (DEPOT_TLS_CERT, DEPOT_TLS_KEY). */
  certFile?: string;
  keyFile?: string;
  /** Send the token in plaintext to a remote address anyway (--insecure, DEPOT_INSECURE=1). */
  insecure?: boolean;
}

/** The transport settings of the environment: DEPOT_TLS_CA, DEPOT_TLS_CERT, DEPOT_TLS_KEY, DEPOT_INSECURE. */
export function transportFromEnv(env: NodeJS.ProcessEnv = process.env): ClientTransport {
  return {
    caFile: env.DEPOT_TLS_CA || undefined,
    certFile: env.DEPOT_TLS_CERT || undefined,
    keyFile: env.DEPOT_TLS_KEY || undefined,
    insecure: env.DEPOT_INSECURE === '1' || env.DEPOT_INSECURE === 'true',
  };
}

/** Codes of the errors `channelCredentials` throws: a setting to fix, not a builder that is down. */
export const TRANSPORT_ERROR_CODES: readonly string[] = [
  'plaintext_refused',
  'tls_setting_without_tls',
  'tls_file_unreadable',
  'tls_client_cert_incomplete',
  'tls_material_invalid',
];

/** Whether an error is a refused or broken transport setting (it stays the same on every builder). */
export function isTransportError(err: unknown): err is DepotError {
  return err instanceof DepotError && TRANSPORT_ERROR_CODES.includes(err.code);
}

/**
 * The one place the client decides how a connection is secured, before any network I/O: a token
 * never crosses the network in plaintext unless the address stays on this machine (unix socket,
 * 127.0.0.0/8, ::1, localhost) or the user said `insecure`.
 */
export function channelCredentials(address: BuilderAddress, t: ClientTransport): grpc.ChannelCredentials {
  if (!address.tls) {
    const tlsVar = t.caFile
      ? 'DEPOT_TLS_CA'
      : t.certFile
        ? 'DEPOT_TLS_CERT'
        : t.keyFile
          ? 'DEPOT_TLS_KEY'
          : '';
    // A unix socket never speaks TLS; the TLS variables are for the network builders.
    if (tlsVar && !address.target.startsWith('unix:'))
      throw new DepotError(
        'tls_setting_without_tls',
        `${tlsVar} is set but ${address.url} is plaintext: use tls://${address.target} or unset ${tlsVar}`,
      );
    if (!t.insecure && !isLocalAddress(address.target))
      throw new DepotError(
        'plaintext_refused',
        `refusing to send a token in plaintext to ${address.url}: use tls://… (DEPOT_TLS_CA for a private CA) or pass --insecure / DEPOT_INSECURE=1`,
      );
    return grpc.credentials.createInsecure();
  }
  if (!!t.certFile !== !!t.keyFile)
    throw new DepotError(
      'tls_client_cert_incomplete',
      `${t.certFile ? 'DEPOT_TLS_CERT is set without DEPOT_TLS_KEY' : 'DEPOT_TLS_KEY is set without DEPOT_TLS_CERT'}: set both (the client certificate and its key) or neither`,
    );
  const ca = t.caFile ? readPem('DEPOT_TLS_CA', t.caFile, 'CERTIFICATE') : null;
  const cert = t.certFile ? readPem('DEPOT_TLS_CERT', t.certFile, 'CERTIFICATE') : null;
  const key = t.keyFile ? readPem('DEPOT_TLS_KEY', t.keyFile, 'PRIVATE KEY') : null;
  try {
    return grpc.credentials.createSsl(ca, key, cert);
  } catch (err) {
    // The key does not match the certificate, or OpenSSL cannot parse one of them.
    throw new DepotError(
      'tls_material_invalid',
      `cannot use the TLS files (DEPOT_TLS_CA, DEPOT_TLS_CERT, DEPOT_TLS_KEY): ${(err as Error).message}`,
      undefined,
      { cause: err },
    );
  }
}

/** Reads a PEM file named by an environment variable; one line saying what is wrong when it cannot. */
function readPem(variable: string, file: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (err as Error).message;
    throw new DepotError('tls_file_unreadable', `cannot read ${variable} ${file}: ${why}`, undefined, {
      cause: err,
    });
  }
  // "BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY", "BEGIN RSA PRIVATE KEY" are all keys.
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(data.toString('latin1')))
    throw new DepotError(
      'tls_material_invalid',
      `${variable} ${file} is not a PEM ${kind === 'CERTIFICATE' ? 'certificate' : 'private key'}`,
    );
  return data;
}
