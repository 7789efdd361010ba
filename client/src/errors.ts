import { ErrorCode, type ErrorCodeValue } from '../../shared/errors.js';
import type { FieldError } from '../../shared/schemas/validate.js';
import type { HubFrame } from './frames.js';

/** Codes the client raises itself; the hub's codes are shared/errors.ts. */
export const ClientErrorCode = {
  /** the outgoing queue is at `maxQueue` */
  queueFull: 'queue_full',
  /** a frame over `maxFrameBytes`, or the hub closed with 1009 */
  frameTooLarge: 'frame_too_large',
  /** a newer socket identified as this agent (close 4001); the client stopped */
  replaced: 'replaced',
  /** the token was revoked (close 4003); the client stopped */
  tokenRevoked: 'token_revoked',
  /** `close()` was called, or the client stopped, before the call was sent */
  closed: 'client_closed',
  /** the socket dropped (and `reconnect: false`, or the call was a ping) */
  disconnected: 'disconnected',
  /** an event handler threw (the `error` event; the delivery still counts as handled) */
  handlerFailed: 'handler_failed',
  /** no global WebSocket and no `ws` package to load */
  noWebSocket: 'no_websocket',
  /** an HTTP call failed without an error body (network, unexpected status) */
  http: 'http_error',
  /** a task handler's generation went stale while it ran: the result was not sent (the hub's code for a refused one) */
  staleGeneration: ErrorCode.staleGeneration,
  /** a task handler's signal: the task was cancelled, or the client stopped */
  taskCancelled: 'task_cancelled',
} as const;
export type ClientErrorCodeValue = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A stable code: the hub's wire codes, the client's own, or a newer hub's (matched as text). */
export type AgentComErrorCode = ErrorCodeValue | ClientErrorCodeValue | (string & {});

/** Every failure the client reports; match on `code`, which never changes once published. */
export class AgentComError extends Error {
  readonly code: AgentComErrorCode;
  /** when the hub says when to try again (rate_limited, overloaded) */
  readonly retryAfterMs: number | null;
  /** `validation_failed`: every field that was refused */
  readonly fields: FieldError[];
  /** the other fields of the hub's error (action, message_type, task_id, channel, HTTP status, …) */
  readonly details: Record<string, unknown>;

  constructor(
    code: AgentComErrorCode,
    message?: string,
    opts: { retryAfterMs?: number | null; fields?: FieldError[]; details?: Record<string, unknown> } = {},
  ) {
    super(message ?? code);
    this.name = 'AgentComError';
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.fields = opts.fields ?? [];
    this.details = opts.details ?? {};
  }

  /**
   * From a hub error frame or HTTP error body. Task results fail as
   * `task_complete_failed: <code>`; the code is the part after the colon.
   */
  static from(body: HubFrame<'error'> | Record<string, unknown>, extra: Record<string, unknown> = {}): AgentComError {
    const { type: _, error, errors, retry_after_ms, ...rest } = body as Record<string, unknown>;
    const raw = typeof error === 'string' ? error : ClientErrorCode.http;
    const colon = raw.indexOf(': ');
    const code = colon > 0 ? raw.slice(colon + 2) : raw;
    const details = colon > 0 ? { ...rest, ...extra, failed: raw.slice(0, colon) } : { ...rest, ...extra };
    const fieldErrors = Array.isArray(errors) ? (errors as FieldError[]) : [];
    const detail = fieldErrors.map((f) => `${f.field}: ${f.detail}`).join('; ');
    return new AgentComError(code, detail ? `${code}: ${detail}` : raw, {
      retryAfterMs: typeof retry_after_ms === 'number' ? retry_after_ms : null,
      fields: fieldErrors,
      details,
    });
  }
}
