import type { SSMClient } from '@aws-sdk/client-ssm';
import { FleetError } from './errors.js';
import { FLEET_ID_RE, type FleetRecord, parseFleetRecord } from './record.js';
import type { FleetOptions, FleetRegistry } from './registry.js';

/** One SSM parameter as the registry sees it. */
export interface SsmParameter {
  name: string;
  value: string;
}

/** The four Parameter Store calls the fleet makes, with errors mapped to FleetError. */
export interface SsmAccess {
  put(name: string, value: string, type?: 'String' | 'SecureString'): Promise<void>;
  /** undefined when the parameter does not exist. */
  get(name: string, decrypt?: boolean): Promise<string | undefined>;
  delete(name: string): Promise<void>;
  /** Every parameter under `path` (recursive), following NextToken. */
  listByPath(path: string): Promise<SsmParameter[]>;
}

const PREFIX_RE = /^(\/[A-Za-z0-9_.-]+)+$/;

/** Checks an SSM prefix such as /depot/prod (no trailing slash, not under /aws or /ssm). */
export function parseSsmPrefix(prefix: string): string {
  const p = prefix.replace(/\/+$/, '');
  if (!PREFIX_RE.test(p) || /^\/(aws|ssm)(\/|$)/i.test(p) || p.split('/').length > 13)
    throw new FleetError('invalid_fleet', `invalid SSM prefix ${JSON.stringify(prefix)}`, {
      hint: 'use ssm:/NAME[/NAME…] with letters, digits, _ . - (not under /aws or /ssm)',
    });
  return p;
}

function mapError(what: string, err: unknown): FleetError {
  const e = err as { name?: string; code?: string; message?: string };
  const name = e?.name ?? '';
  const detail = e?.message ?? String(err);
  if (
    name === 'AccessDeniedException' ||
    name === 'UnrecognizedClientException' ||
    name === 'InvalidSignatureException'
  )
    return new FleetError('fleet_access_denied', `${what} was denied: ${detail}`, {
      cause: err,
      hint: 'check the AWS credentials and their ssm:* permissions on the prefix',
    });
  if (name === 'CredentialsProviderError')
    return new FleetError('fleet_access_denied', `${what} failed: no AWS credentials: ${detail}`, {
      cause: err,
      hint: 'set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run on an instance with a role',
    });
  if (/region is missing/i.test(detail))
    return new FleetError('fleet_unavailable', `${what} failed: no AWS region`, {
      cause: err,
      hint: 'set AWS_REGION',
    });
  return new FleetError('fleet_unavailable', `${what} failed: ${detail}`, { cause: err });
}

/** Parameter Store access through @aws-sdk/client-ssm (loaded on first use), standard credential chain. */
export function createSsmAccess(options: FleetOptions = {}): SsmAccess {
  const env = options.env ?? process.env;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const endpoint = options.endpoint ?? env.DEPOT_SSM_ENDPOINT;
  const pageSize = Math.min(10, Math.max(1, options.pageSize ?? 10));
  let loaded: Promise<{ sdk: typeof import('@aws-sdk/client-ssm'); client: SSMClient }> | undefined;

  function sdk() {
    // The SDK warns on every Node 20 process about a 2027 support change; depot supports Node 20, and
    // the warning would land in the middle of build output. An explicit setting by the user wins.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    loaded ??= import('@aws-sdk/client-ssm').then((m) => ({
      sdk: m,
      client: new m.SSMClient({
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      }),
    }));
    return loaded;
  }

  return {
    async put(name, value, type = 'String') {
      const { sdk: m, client } = await sdk();
      try {
        await client.send(
          new m.PutParameterCommand({ Name: name, Value: value, Type: type, Overwrite: true }),
        );
      } catch (err) {
        throw mapError(`ssm PutParameter ${name}`, err);
      }
    },

    async get(name, decrypt = false) {
      const { sdk: m, client } = await sdk();
      try {
        const out = await client.send(new m.GetParameterCommand({ Name: name, WithDecryption: decrypt }));
        return out.Parameter?.Value;
      } catch (err) {
        if ((err as { name?: string }).name === 'ParameterNotFound') return undefined;
        throw mapError(`ssm GetParameter ${name}`, err);
      }
    },

    async delete(name) {
      const { sdk: m, client } = await sdk();
      try {
        await client.send(new m.DeleteParameterCommand({ Name: name }));
      } catch (err) {
        if ((err as { name?: string }).name === 'ParameterNotFound') return;
        throw mapError(`ssm DeleteParameter ${name}`, err);
      }
    },

    async listByPath(path) {
      const { sdk: m, client } = await sdk();
      const out: SsmParameter[] = [];
      let token: string | undefined;
      do {
        let page: import('@aws-sdk/client-ssm').GetParametersByPathCommandOutput;
        try {
          page = await client.send(
            new m.GetParametersByPathCommand({
              Path: path,
              Recursive: true,
              MaxResults: pageSize,
              ...(token ? { NextToken: token } : {}),
            }),
          );
        } catch (err) {
          throw mapError(`ssm GetParametersByPath ${path}`, err);
        }
        for (const p of page.Parameters ?? [])
          if (p.Name !== undefined && p.Value !== undefined) out.push({ name: p.Name, value: p.Value });
        token = page.NextToken || undefined;
      } while (token);
      return out;
    },
  };
}

function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !FLEET_ID_RE.test(id))
    throw new FleetError('invalid_record', `invalid ${kind} ${JSON.stringify(id)}`);
}

/**
 * A FleetRegistry in SSM Parameter Store: `<prefix>/builders/<id>` holds each record as JSON
 * (String, overwritten on each heartbeat), `<prefix>/revoked/<jti>` each revoked team token.
 */
export function createSsmFleetRegistry(prefix: string, options: FleetOptions = {}): FleetRegistry {
  const root = parseSsmPrefix(prefix);
  const ssm = createSsmAccess(options);
  const now = options.now ?? (() => new Date());
  // The last record this instance wrote, so a heartbeat is one PutParameter instead of a Get and a Put.
  const mine = new Map<string, FleetRecord>();
  const builderName = (id: string) => `${root}/builders/${id}`;

  return {
    spec: `ssm:${root}`,

    async register(record) {
      const rec = parseFleetRecord(record, `record of builder ${JSON.stringify(record?.id)}`);
      await ssm.put(builderName(rec.id), JSON.stringify(rec));
      mine.set(rec.id, rec);
    },

    async heartbeat(id) {
      checkId('builder id', id);
      let rec = mine.get(id);
      if (!rec) {
        const text = await ssm.get(builderName(id));
        if (text === undefined)
          throw new FleetError('not_registered', `builder ${id} is not registered under ssm:${root}`);
        rec = parseFleetRecord(JSON.parse(text), `parameter ${builderName(id)}`);
      }
      const next = { ...rec, heartbeat: now().toISOString() };
      await ssm.put(builderName(id), JSON.stringify(next));
      mine.set(id, next);
    },

    async deregister(id) {
      checkId('builder id', id);
      mine.delete(id);
      await ssm.delete(builderName(id));
    },

    async list() {
      const out: FleetRecord[] = [];
      for (const p of await ssm.listByPath(`${root}/builders`)) {
        const key = p.name.slice(`${root}/builders/`.length);
        try {
          const rec = parseFleetRecord(JSON.parse(p.value), `parameter ${p.name}`);
          if (rec.id !== key)
            throw new FleetError('invalid_record', `parameter ${p.name} carries id ${rec.id}`);
          out.push(rec);
        } catch (err) {
          options.onInvalidRecord?.(p.name, err as Error);
        }
      }
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    async revokeToken(jti) {
      checkId('token id', jti);
      await ssm.put(`${root}/revoked/${jti}`, JSON.stringify({ revokedAt: now().toISOString() }));
    },

    async revokedTokens() {
      const base = `${root}/revoked/`;
      return (await ssm.listByPath(`${root}/revoked`))
        .map((p) => p.name.slice(base.length))
        .filter((id) => FLEET_ID_RE.test(id))
        .sort();
    },
  };
}
