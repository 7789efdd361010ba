import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { holdsProtoKey, isPlainObject, jsonDepthExceeds, SCAN_FIRST_BYTES, valueFault } from '../../shared/json.js';
import type { Action } from '../../shared/ratelimit.js';
import type { HubFrame } from '../../shared/schemas/hub-frames.js';
import { type FieldError, PROTO_KEY_ERROR } from '../../shared/schemas/validate.js';
import type { WsType } from '../../shared/schemas/ws.js';
import type { Fleet } from '../fleet.js';
import type { Limiter } from '../limiter.js';
import type { Logger } from '../log.js';
import type { Validator } from '../validation.js';
import type { Violations } from '../violations.js';
import type { Connection } from './connection.js';
import type { Handlers } from './handlers.js';

export interface GatewayDeps {
  fleet: Fleet;
  /** every known frame type and its handler */
  handlers: Handlers;
  validator: Validator;
  limiter: Limiter;
  violations: Violations;
  log: Logger;
  maxDepth: number;
  maxFrameBytes: number;
  /** a socket ended */
  closed: (conn: Connection, code: number) => void;
  /** a frame whose handler waits (a write, a read from storage) was answered, after this many seconds */
  answered?: (type: string, seconds: number) => void;
}

/** Frames that spend an action bucket besides `ws_message` (§9.4). */
const ACTION_OF: Partial<Record<WsType, Action>> = { message: 'message', channel_publish: 'channel_publish' };

function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Sends an error frame; violations count toward the §2.3 close and back-off. */
function violation(g: GatewayDeps, conn: Connection, frame: HubFrame<'error'>): void {
  // frames already in flight when the socket was closed for violations are not punished again: one close, one step
  if (conn.closing) return;
  conn.sendJson(frame);
  const now = Date.now();
  if (!g.violations.record(conn.violations, conn.agentId, now)) return;
  if (conn.agentId) {
    const ms = g.violations.punish(conn.agentId, now);
    g.log.warn({ agent_id: conn.agentId, backoff_ms: ms }, 'agent closed for repeated violations');
  }
  conn.close(1008, 'too many validation errors');
}

function validationFailed(messageType: string, errors: FieldError[]): HubFrame<'error'> {
  return { type: 'error', error: ErrorCode.validationFailed, message_type: messageType, errors };
}

function rateLimited(g: GatewayDeps, conn: Connection, action: Action): boolean {
  const r = g.limiter.take(conn.limiterKey, action);
  if (r.allowed) {
    if (r.remaining < r.capacity * 0.2) {
      conn.sendJson({ type: 'rate_limit_warning', action, remaining: r.remaining, capacity: r.capacity });
    }
    return false;
  }
  const retry = Math.ceil(r.retryAfterMs / 1000) * 1000;
  violation(g, conn, { type: 'error', error: ErrorCode.rateLimited, retry_after_ms: retry, action });
  return true;
}

function errorFrame(err: unknown, g: GatewayDeps, type: string): HubFrame<'error'> {
  if (err instanceof HubError) return { type: 'error', error: err.code, ...err.fields };
  g.log.error({ err, frame_type: type }, 'frame handler failed');
  return { type: 'error', error: ErrorCode.internal };
}

function tooDeep(g: GatewayDeps, conn: Connection): void {
  const detail = `nested deeper than ${g.maxDepth} levels`;
  violation(g, conn, validationFailed('unknown', [{ field: 'message', error: 'too_long', detail }]));
}

function onFrame(g: GatewayDeps, conn: Connection, data: RawData, isBinary = false): void {
  const started = performance.now();
  conn.lastSeen = Date.now();
  if (rateLimited(g, conn, 'ws_message')) return;
  // ws checks a text frame's UTF-8 (1007); a binary one is read as JSON text only when it is UTF-8, never lossily
  if (isBinary && !(Buffer.isBuffer(data) && isUtf8(data))) {
    violation(g, conn, { type: 'error', error: ErrorCode.invalidJson });
    return;
  }
  const text = data.toString();
  const bytes = Buffer.isBuffer(data) ? data.length : Buffer.byteLength(text);
  // big frames are scanned before parsing so a deep one costs no parse time; small ones are checked after
  const small = bytes <= SCAN_FIRST_BYTES;
  if (!small && jsonDepthExceeds(text, g.maxDepth)) {
    tooDeep(g, conn);
    return;
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    violation(g, conn, { type: 'error', error: ErrorCode.invalidJson });
    return;
  }
  // one walk of a small frame finds both; a big one was depth-scanned as text and is walked only if it may hold the key
  const fault = small ? valueFault(obj, g.maxDepth) : holdsProtoKey(text, obj) ? 'proto' : null;
  if (fault === 'deep') {
    tooDeep(g, conn);
    return;
  }
  if (!isPlainObject(obj)) {
    const detail = 'a frame must be a JSON object';
    violation(g, conn, validationFailed('unknown', [{ field: 'message', error: 'wrong_type', detail }]));
    return;
  }
  const type = obj.type;
  if (typeof type !== 'string') {
    const error = type === undefined || type === null ? 'required' : 'wrong_type';
    violation(g, conn, validationFailed('unknown', [{ field: 'type', error, detail: 'type must be a string' }]));
    return;
  }
  if (!Object.hasOwn(g.handlers, type)) {
    const known_types = Object.keys(g.handlers);
    const err: FieldError = {
      field: 'type',
      error: 'unknown_message_type',
      detail: `unknown type "${type.slice(0, 64)}"`,
      value: type.slice(0, 64),
      known_types,
    };
    violation(g, conn, validationFailed('unknown', [err]));
    return;
  }
  const t = type as WsType;
  if (fault === 'proto') {
    violation(g, conn, validationFailed(t, [PROTO_KEY_ERROR]));
    return;
  }
  const parsed = g.validator.frame(t, obj, bytes);
  if (!parsed.ok) {
    violation(g, conn, validationFailed(t, parsed.errors));
    return;
  }
  // §2: parse, validate, then only a valid frame is told it came before identify
  if (t !== 'identify' && !conn.agentId) {
    conn.sendJson({ type: 'error', error: ErrorCode.notIdentified });
    return;
  }
  const action = ACTION_OF[t];
  if (action && rateLimited(g, conn, action)) return;
  if (typeof obj.protocol_version === 'number' || typeof obj.protocol_version === 'string') {
    conn.protocolVersion = obj.protocol_version;
  }
  const handler = g.handlers[t] as (conn: Connection, frame: unknown) => void | Promise<void>;
  try {
    const out = handler(conn, parsed.value);
    if (out)
      out.then(
        () => g.answered?.(t, (performance.now() - started) / 1000),
        (err) => conn.sendJson(errorFrame(err, g, t)),
      );
  } catch (err) {
    conn.sendJson(errorFrame(err, g, t));
  }
}

function onConnection(g: GatewayDeps, ws: WebSocket, req: IncomingMessage): void {
  const conn = g.fleet.add(ws, clientIp(req), Date.now());
  g.limiter.pin(conn.limiterKey);
  g.log.debug({ conn: conn.id, ip: conn.ip }, 'socket opened');
  ws.on('message', (data, isBinary) => onFrame(g, conn, data, isBinary));
  ws.on('pong', () => {
    conn.pongPending = false;
  });
  ws.on('error', (err) => g.log.debug({ conn: conn.id, err: err.message }, 'socket error'));
  ws.on('close', (code) => {
    if (!conn.agentId) g.log.debug({ conn: conn.id, code }, 'socket closed before identify');
    g.closed(conn, code);
  });
}

/** WebSocket on `/ws` of the public server (`noServer`, no per-message deflate). */
export function attachWebSocket(g: GatewayDeps, server: Server, isOpen: () => boolean): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: g.maxFrameBytes, perMessageDeflate: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws' || !isOpen()) {
      socket.end(
        `HTTP/1.1 ${path === '/ws' ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(g, ws, req));
  });
  return wss;
}
