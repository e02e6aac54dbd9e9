/**
 * A fleet-registry or platform failure with a stable `code`:
 * 'invalid_platform', 'invalid_fleet', 'invalid_record', 'not_registered', 'fleet_locked',
 * 'fleet_corrupt', 'fleet_unavailable', 'fleet_access_denied', 'team_secret_invalid', 'io_error'.
 */
export class FleetError extends Error {
  readonly code: string;
  readonly hint?: string;
  override readonly cause?: unknown;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message);
    this.name = 'FleetError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** An unknown or malformed platform string; `code` is always 'invalid_platform'. */
export class PlatformError extends FleetError {
  constructor(message: string) {
    super('invalid_platform', message);
    this.name = 'PlatformError';
  }
}
