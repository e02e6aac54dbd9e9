// A private CA and the certificates a team needs to run builders over TLS, in one step.
import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata API (its DI container).
import { randomBytes, webcrypto } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

/** What `depot-builder tls init` makes. */
export interface TlsInitOptions {
  /** Directory for the files (created when absent). */
  outDir: string;
  /** DNS names clients use to reach the builder (subject alternative names of server.pem). */
  hosts: string[];
  /** IP addresses clients use to reach the builder. */
  ips: string[];
  /** Also a client certificate (for `serve --tls-client-ca`) with this common name. */
  client?: string;
  /** Validity of the server and client certificates in days (the CA's is ten years). */
  days?: number;
  now?: Date;
}

/** A failure of `tls init` the user can act on (one line). */
export class TlsInitError extends Error {
  constructor(
    readonly code: 'invalid_name' | 'files_exist',
    message: string,
  ) {
    super(message);
    this.name = 'TlsInitError';
  }
}

/** The files `tls init` writes, by role; keys are written mode 0600. */
export const TLS_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  server: 'server.pem',
  serverKey: 'server-key.pem',
  client: 'client.pem',
  clientKey: 'client-key.pem',
} as const;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
const DNS_NAME =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The names the server certificate carries when none are given: this machine, by name and loopback. */
export function defaultServerNames(): { hosts: string[]; ips: string[] } {
  return { hosts: [...new Set([hostname(), 'localhost'])], ips: ['127.0.0.1', '::1'] };
}

/**
 * Writes ca.pem, ca-key.pem, server.pem, server-key.pem (and client.pem, client-key.pem with
 * `client`) into `outDir`. Refuses when any of them exists; writes each to a temp file first and
 * renames it, so a failure leaves none of them behind. Returns the paths written.
 */
export async function initTls(o: TlsInitOptions): Promise<string[]> {
  for (const h of o.hosts)
    if (!DNS_NAME.test(h))
      throw new TlsInitError('invalid_name', `invalid --host ${JSON.stringify(h)}: use a DNS name`);
  for (const ip of o.ips)
    if (!isIP(ip))
      throw new TlsInitError(
        'invalid_name',
        `invalid --ip ${JSON.stringify(ip)}: use an IPv4 or IPv6 address`,
      );
  if (o.hosts.length + o.ips.length === 0)
    throw new TlsInitError(
      'invalid_name',
      'the server certificate needs a name: pass --host NAME or --ip IP',
    );
  if (o.client !== undefined && !/^[\w.@-]{1,64}$/.test(o.client))
    throw new TlsInitError(
      'invalid_name',
      `invalid --client ${JSON.stringify(o.client)}: use letters, digits, . _ @ - (at most 64)`,
    );

  const names: (keyof typeof TLS_FILES)[] = ['ca', 'caKey', 'server', 'serverKey'];
  if (o.client !== undefined) names.push('client', 'clientKey');
  const paths = names.map((n) => join(o.outDir, TLS_FILES[n]));
  const existing = (await Promise.all(paths.map(async (p) => ((await exists(p)) ? p : undefined)))).filter(
    Boolean,
  );
  if (existing.length)
    throw new TlsInitError(
      'files_exist',
      `${existing.join(', ')} already ${existing.length === 1 ? 'exists' : 'exist'}: tls init never overwrites (use another --out or remove them)`,
    );

  const now = o.now ?? new Date();
  // Backdated a little: a builder whose clock runs behind the laptop's still accepts the certificate.
  const notBefore = new Date(now.getTime() - 3_600_000);
  const leafDays = o.days ?? 825;
  const subtle = webcrypto.subtle;
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

  const caKeys = await subtle.generateKey(ALG, true, ['sign', 'verify']);
  const caName = `CN=depot builder CA (${hostname()}), O=depot`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: caName,
    notBefore,
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const leaf = async (cn: string, usage: 'server' | 'client', san: x509.JsonGeneralName[]) => {
    const keys = await subtle.generateKey(ALG, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${cn}, O=depot`,
      issuer: ca.subject,
      notBefore,
      notAfter: new Date(now.getTime() + leafDays * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        ...(san.length ? [new x509.SubjectAlternativeNameExtension(san, false)] : []),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
  };

  const server = await leaf(o.hosts[0] ?? o.ips[0]!, 'server', [
    ...o.hosts.map((value) => ({ type: 'dns' as const, value })),
    ...o.ips.map((value) => ({ type: 'ip' as const, value })),
  ]);
  const contents: Record<string, string> = {
    ca: ca.toString('pem'),
    caKey: await keyPem(caKeys.privateKey),
    server: server.cert,
    serverKey: server.key,
  };
  if (o.client !== undefined) {
    const client = await leaf(o.client, 'client', []);
    contents.client = client.cert;
    contents.clientKey = client.key;
  }

  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const temps: string[] = [];
  const done: string[] = [];
  try {
    for (const n of names) {
      const tmp = join(o.outDir, `.${TLS_FILES[n]}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push(tmp);
      await writeDurably(tmp, `${contents[n]!.trim()}\n`, n.endsWith('Key') ? 0o600 : 0o644);
    }
    for (const [i, path] of paths.entries()) {
      // Checked again right before: a file that appeared meanwhile is not clobbered.
      if (await exists(path))
        throw new TlsInitError('files_exist', `${path} appeared meanwhile: not overwritten`);
      await rename(temps[i]!, path);
      done.push(path);
    }
  } catch (err) {
    await Promise.all([...temps, ...done].map((p) => unlink(p).catch(() => {})));
    throw err;
  }
  return paths;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** A positive 16-byte serial number (RFC 5280: unique per CA, at most 20 bytes). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Writes a new file with its final mode from the start (a key is never readable by others). */
async function writeDurably(path: string, data: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have taken bits from `mode`
    await fh.sync();
  } finally {
    await fh.close();
  }
}
