import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FleetError } from './errors.js';
import { createFileFleetRegistry } from './file-registry.js';
import type { FleetOptions, FleetRegistry } from './registry.js';
import { createSsmAccess, createSsmFleetRegistry, parseSsmPrefix } from './ssm-registry.js';

/** A fleet spec split into its provider and location. */
export type FleetSpec = { kind: 'file'; path: string } | { kind: 'ssm'; prefix: string };

/** Parses `file:PATH` (relative paths resolve against the cwd) or `ssm:/PREFIX`; throws FleetError 'invalid_fleet'. */
export function parseFleetSpec(spec: string): FleetSpec {
  const s = typeof spec === 'string' ? spec.trim() : '';
  if (s.startsWith('file:') && s.length > 'file:'.length) return { kind: 'file', path: resolve(s.slice(5)) };
  if (s.startsWith('ssm:')) return { kind: 'ssm', prefix: parseSsmPrefix(s.slice(4)) };
  throw new FleetError('invalid_fleet', `invalid fleet ${JSON.stringify(spec)}`, {
    hint: 'use file:PATH or ssm:/PREFIX',
  });
}

/** Opens the registry a spec names (`file:PATH` or `ssm:/PREFIX`); nothing is read until first use. */
export function openFleet(spec: string, options: FleetOptions = {}): FleetRegistry {
  const parsed = parseFleetSpec(spec);
  return parsed.kind === 'file'
    ? createFileFleetRegistry(parsed.path, options)
    : createSsmFleetRegistry(parsed.prefix, options);
}

/** Where an SSM fleet keeps its team secret by convention (`ssm:/PREFIX/team-secret`); undefined for a file fleet. */
export function defaultTeamSecretSpec(fleetSpec: string): string | undefined {
  const parsed = parseFleetSpec(fleetSpec);
  return parsed.kind === 'ssm' ? `ssm:${parsed.prefix}/team-secret` : undefined;
}

/** Team secrets shorter than this are refused: the HMAC is only as strong as its key. */
export const MIN_TEAM_SECRET_LENGTH = 32;

/**
 * Reads the team secret from `file:PATH` (whole file, trimmed) or `ssm:/NAME` (a SecureString,
 * GetParameter WithDecryption). Throws FleetError 'team_secret_invalid' when missing or short.
 */
export async function loadTeamSecret(spec: string, options: FleetOptions = {}): Promise<string> {
  const s = typeof spec === 'string' ? spec.trim() : '';
  let secret: string | undefined;
  if (s.startsWith('file:') && s.length > 5) {
    const path = resolve(s.slice(5));
    try {
      secret = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new FleetError('team_secret_invalid', `cannot read team secret file ${path}`, { cause: err });
    }
  } else if (s.startsWith('ssm:')) {
    const name = parseSsmPrefix(s.slice(4));
    secret = (await createSsmAccess(options).get(name, true))?.trim();
    if (secret === undefined)
      throw new FleetError('team_secret_invalid', `team secret parameter ${name} does not exist`, {
        hint: `create it: aws ssm put-parameter --type SecureString --name ${name} --value "$(openssl rand -base64 48)"`,
      });
  } else {
    throw new FleetError('team_secret_invalid', `invalid team secret source ${JSON.stringify(spec)}`, {
      hint: 'use file:PATH or ssm:/NAME',
    });
  }
  if (secret.length < MIN_TEAM_SECRET_LENGTH)
    throw new FleetError(
      'team_secret_invalid',
      `team secret from ${s} is too short (${secret.length} characters, need ${MIN_TEAM_SECRET_LENGTH})`,
      { hint: 'generate one with: openssl rand -base64 48' },
    );
  return secret;
}
