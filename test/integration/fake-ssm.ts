import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One parameter held by the fake. */
export interface FakeParameter {
  name: string;
  type: 'String' | 'StringList' | 'SecureString';
  value: string;
  version: number;
  lastModified: number;
}

/** A call the fake served: the X-Amz-Target action and its JSON body. */
export interface FakeSsmCall {
  action: string;
  body: Record<string, unknown>;
  authorization: string;
}

/** A running SSM-compatible endpoint (AWS JSON 1.1) for tests. */
export interface FakeSsm {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  parameters: Map<string, FakeParameter>;
  calls: FakeSsmCall[];
  /** Makes the next call of `action` fail with an AWS error type such as AccessDeniedException. */
  failNext(action: string, type: string, message?: string, status?: number): void;
  close(): Promise<void>;
}

class SsmFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const NAME_RE = /^(\/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$/;

/**
 * Starts a fake of AWS Systems Manager Parameter Store on 127.0.0.1 implementing the JSON 1.1
 * actions the fleet calls: PutParameter, GetParameter, GetParametersByPath (MaxResults ≤ 10,
 * NextToken) and DeleteParameter. SecureString values come back as opaque ciphertext unless
 * WithDecryption is set. Requests must carry a SigV4 Authorization header (not verified).
 */
export async function startFakeSsm(): Promise<FakeSsm> {
  const parameters = new Map<string, FakeParameter>();
  const calls: FakeSsmCall[] = [];
  const faults: { action: string; type: string; message: string; status: number }[] = [];

  const shown = (p: FakeParameter, decrypt: boolean) => ({
    Name: p.name,
    Type: p.type,
    Value:
      p.type === 'SecureString' && !decrypt ? `AQICAH${Buffer.from(p.value).toString('base64')}` : p.value,
    Version: p.version,
    LastModifiedDate: p.lastModified,
    ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${p.name.startsWith('/') ? '' : '/'}${p.name}`,
    DataType: 'text',
  });

  function checkName(name: unknown): string {
    if (typeof name !== 'string' || !NAME_RE.test(name) || name.length > 2048)
      throw new SsmFault('ValidationException', `invalid parameter name ${JSON.stringify(name)}`);
    return name;
  }

  const actions: Record<string, (b: Record<string, unknown>) => unknown> = {
    PutParameter(b) {
      const name = checkName(b.Name);
      if (typeof b.Value !== 'string' || b.Value.length === 0)
        throw new SsmFault('ValidationException', 'Value must be a non-empty string');
      if (b.Value.length > 4096)
        throw new SsmFault('ValidationException', 'Standard tier parameters support a maximum value of 4096');
      const existing = parameters.get(name);
      if (existing && b.Overwrite !== true)
        throw new SsmFault('ParameterAlreadyExists', 'The parameter already exists.');
      const type = (b.Type as FakeParameter['type'] | undefined) ?? existing?.type;
      if (!type || !['String', 'StringList', 'SecureString'].includes(type))
        throw new SsmFault('ValidationException', 'Type is required for a new parameter');
      const version = (existing?.version ?? 0) + 1;
      parameters.set(name, { name, type, value: b.Value, version, lastModified: Date.now() / 1000 });
      return { Version: version, Tier: 'Standard' };
    },
    GetParameter(b) {
      const p = parameters.get(checkName(b.Name));
      if (!p) throw new SsmFault('ParameterNotFound', '');
      return { Parameter: shown(p, b.WithDecryption === true) };
    },
    DeleteParameter(b) {
      const name = checkName(b.Name);
      if (!parameters.delete(name)) throw new SsmFault('ParameterNotFound', '');
      return {};
    },
    GetParametersByPath(b) {
      const path = b.Path;
      if (typeof path !== 'string' || !path.startsWith('/'))
        throw new SsmFault('ValidationException', 'Path must start with /');
      const max = b.MaxResults === undefined ? 10 : Number(b.MaxResults);
      if (!Number.isInteger(max) || max < 1 || max > 10)
        throw new SsmFault('ValidationException', 'MaxResults must be between 1 and 10');
      const base = path.endsWith('/') ? path : `${path}/`;
      const all = [...parameters.values()]
        .filter(
          (p) =>
            p.name.startsWith(base) && (b.Recursive === true || !p.name.slice(base.length).includes('/')),
        )
        .sort((x, y) => (x.name < y.name ? -1 : 1));
      let start = 0;
      if (b.NextToken !== undefined) {
        const decoded = /^tok-(\d+)$/.exec(Buffer.from(String(b.NextToken), 'base64').toString());
        if (!decoded) throw new SsmFault('InvalidNextToken', 'The specified token is not valid.');
        start = Number(decoded[1]);
      }
      const page = all.slice(start, start + max);
      const next =
        start + max < all.length ? Buffer.from(`tok-${start + max}`).toString('base64') : undefined;
      return {
        Parameters: page.map((p) => shown(p, b.WithDecryption === true)),
        ...(next ? { NextToken: next } : {}),
      };
    },
  };

  function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': `fake-${calls.length}`,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const authorization = String(req.headers.authorization ?? '');
    const fail = (e: SsmFault) => send(res, e.status, { __type: e.type, message: e.message }, e.type);
    if (req.method !== 'POST' || !target.startsWith('AmazonSSM.'))
      return fail(new SsmFault('UnknownOperationException', `unknown target ${target}`));
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1'))
      return fail(new SsmFault('SerializationException', 'expected application/x-amz-json-1.1'));
    if (!authorization.startsWith('AWS4-HMAC-SHA256 Credential='))
      return fail(new SsmFault('MissingAuthenticationTokenException', 'Missing Authentication Token', 403));
    const action = target.slice('AmazonSSM.'.length);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return fail(new SsmFault('SerializationException', 'body is not JSON'));
    }
    calls.push({ action, body, authorization });
    const fault = faults.findIndex((f) => f.action === action);
    if (fault >= 0) {
      const [f] = faults.splice(fault, 1);
      return fail(new SsmFault(f!.type, f!.message, f!.status));
    }
    const fn = actions[action];
    if (!fn)
      return fail(new SsmFault('UnknownOperationException', `${action} is not implemented by the fake`));
    try {
      send(res, 200, fn(body));
    } catch (err) {
      if (err instanceof SsmFault) return fail(err);
      send(res, 500, { __type: 'InternalServerError', message: String(err) }, 'InternalServerError');
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    parameters,
    calls,
    failNext(action, type, message = `${type} (injected)`, status = 400) {
      faults.push({ action, type, message, status });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
