/**
 * Stable error codes: exactly the strings the wire carries. A domain function
 * throws a HubError; the edge (WS gateway or HTTP router) turns it into the
 * protocol's error frame or status in one place.
 */
export const ErrorCode = {
  invalidJson: 'invalid_json',
  validationFailed: 'validation_failed',
  notIdentified: 'not_identified',
  invalidToken: 'invalid_token',
  tokenAgentMismatch: 'token_agent_mismatch',
  unauthorized: 'unauthorized',
  adminPortOnly: 'admin_port_only',
  rateLimited: 'rate_limited',
  overloaded: 'overloaded',
  storageUnavailable: 'storage_unavailable',
  notFound: 'not_found',
  methodNotAllowed: 'method_not_allowed',
  agentNotFound: 'agent_not_found',
  agentNotConnected: 'agent_not_connected',
  agentIdTaken: 'agent_id already registered',
  channelNotFound: 'channel_not_found',
  channelExists: 'channel_exists',
  taskNotFound: 'task_not_found',
  unknownTable: 'unknown_table',
  backupNotFound: 'backup_not_found',
  backupInvalid: 'backup_invalid',
  restoreFailed: 'restore_failed',
  alertNotFound: 'alert_not_found',
  staleGeneration: 'stale_generation',
  invalidState: 'invalid_state',
  dependencyFailed: 'dependency_failed',
  invalidLevel: 'invalid_level',
  invalidOverrides: 'invalid_overrides',
  idempotencyKeyReused: 'idempotency_key_reused',
  payloadTooLarge: 'payload_too_large',
  badRequest: 'bad_request',
  headersTooLarge: 'headers_too_large',
  requestTimeout: 'request_timeout',
  shuttingDown: 'shutting_down',
  internal: 'internal_error',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each code that can reach an HTTP caller. */
export const httpStatus: Partial<Record<ErrorCodeValue, number>> = {
  invalid_json: 400,
  validation_failed: 422,
  invalid_level: 422,
  invalid_overrides: 422,
  idempotency_key_reused: 422,
  unauthorized: 401,
  invalid_token: 401,
  token_agent_mismatch: 401,
  admin_port_only: 403,
  not_found: 404,
  method_not_allowed: 405,
  agent_not_found: 404,
  agent_not_connected: 404,
  channel_not_found: 404,
  task_not_found: 404,
  unknown_table: 404,
  backup_not_found: 404,
  backup_invalid: 422,
  restore_failed: 500,
  alert_not_found: 404,
  'agent_id already registered': 409,
  channel_exists: 409,
  stale_generation: 409,
  invalid_state: 409,
  dependency_failed: 409,
  payload_too_large: 413,
  // malformed HTTP: a request target no URL parser takes, or framing node's parser refuses
  bad_request: 400,
  headers_too_large: 431,
  request_timeout: 408,
  rate_limited: 429,
  overloaded: 503,
  storage_unavailable: 503,
  shutting_down: 503,
  internal_error: 500,
};

export class HubError extends Error {
  readonly code: ErrorCodeValue;
  /** Extra fields merged into the error frame or body (e.g. task_id, retry_after_ms). */
  readonly fields: Record<string, unknown>;
  constructor(code: ErrorCodeValue, fields: Record<string, unknown> = {}) {
    super(code);
    this.code = code;
    this.fields = fields;
  }
}

/** What crosses a thread boundary for a failed batch item. */
export interface WireError {
  code: ErrorCodeValue;
  fields?: Record<string, unknown>;
  /** what an op threw that was not a HubError: logged on main, never sent to a client */
  cause?: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof HubError) return { code: err.code, fields: err.fields };
  return { code: ErrorCode.internal, cause: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/**
 * A refusal the operator must act on (a held or damaged data directory, a
 * missing file): its message is one line saying what is wrong and what to
 * run; the CLI prints it without a stack and exits 1.
 */
export class OperatorError extends Error {}
