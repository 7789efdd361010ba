import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode, type ErrorCodeValue, HubError, httpStatus } from '../../shared/errors.js';
import { holdsProtoKey, isPlainObject, jsonDepthExceeds } from '../../shared/json.js';
import type { Action } from '../../shared/ratelimit.js';
import { IDEMPOTENCY_KEY_MAX } from '../../shared/schemas/common.js';
import type { HttpBody, HttpSchemas } from '../../shared/schemas/http.js';
import { PROTO_KEY_ERROR } from '../../shared/schemas/validate.js';
import { bearer, type TokenCache } from '../auth.js';
import type { Limiter } from '../limiter.js';
import type { Logger } from '../log.js';
import type { Validator } from '../validation.js';
import type { Violations } from '../violations.js';

export interface RouterDeps {
  tokens: TokenCache;
  limiter: Limiter;
  violations: Violations;
  validator: Validator;
  log: Logger;
  maxBodyBytes: number;
  maxDepth: number;
  /** answers a connection may hold untaken before it is closed (four times a socket's send cap, as for WS replies) */
  unsentMax: number;
}

/**
 * Who may call a route (PROTOCOL.md §1): `auth` = Bearer header; `tok` =
 * header or `?token=`; `own` = tok whose agent is `:agent_id`; `admin` = the
 * admin token (admin port only); `none`.
 */
export type AuthMode = 'none' | 'auth' | 'tok' | 'own' | 'admin';

export interface Ctx {
  req: IncomingMessage;
  params: Record<string, string>;
  body: any;
  /** the body as sent, before its schema dropped what it does not know */
  raw: unknown;
  /** the calling agent (auth/tok/own routes) */
  agent: string;
  ip: string;
  /** the query string checked against a schema; 422 when it does not fit */
  parse<K extends keyof HttpSchemas>(name: K): HttpBody<K>;
}

export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  /** the route answers itself on the response (a stream); `body` is then ignored */
  stream?: (res: ServerResponse) => void;
}

export interface Route {
  method: string;
  path: string;
  auth: AuthMode;
  /** the rate-limit action; `http` by default on agent routes, none on admin routes */
  action?: Action | null;
  body?: keyof HttpSchemas;
  /** the error a body that fails its schema answers, when the protocol names one (default validation_failed) */
  bodyError?: ErrorCodeValue;
  handler: (ctx: Ctx) => Reply | Promise<Reply>;
}

interface Compiled extends Route {
  re: RegExp;
  keys: string[];
}

export function compile(routes: Route[]): Compiled[] {
  return routes.map((r) => {
    const keys: string[] = [];
    const src = r.path.replace(/:([a-z_]+)/g, (_m, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    return { ...r, re: new RegExp(`^${src}/?$`), keys };
  });
}

/** `unsentMax`: see `overrun`. */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  unsentMax = Number.POSITIVE_INFINITY,
): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const bytes = Buffer.byteLength(text);
  if (overrun(res, bytes, unsentMax)) return;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
    'content-length': bytes,
    ...headers,
  });
  res.end(text);
}

/** Bytes answered on each connection that its reader has not taken: pipelined answers wait in memory behind the first. */
const unsent = new WeakMap<Socket, number>();

/**
 * A connection that keeps asking without reading (§9.20): once what it was
 * answered and has not taken passes `max` it is closed, so memory does not
 * grow with it. One answer of any size always goes.
 */
function overrun(res: ServerResponse, bytes: number, max: number): boolean {
  const socket = res.req.socket;
  // every answer not yet taken, the one being written included (its bytes are in writableLength too)
  const held = unsent.get(socket) ?? 0;
  if (held > max) {
    socket.destroy();
    return true;
  }
  unsent.set(socket, held + bytes);
  res.once('close', () => unsent.set(socket, (unsent.get(socket) ?? bytes) - bytes));
  return false;
}

/** The client closed or reset its connection before its body arrived: no one to answer, and no fault of the hub. */
class ClientGone extends Error {}

function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  if (err instanceof ClientGone) {
    log.debug({ reason: (err.cause as Error).message }, 'http client went away mid-request');
    return;
  }
  if (err instanceof HubError) {
    const status = httpStatus[err.code] ?? 400;
    const headers: Record<string, string> = {};
    const retry = err.fields.retry_after_ms;
    if (typeof retry === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(retry / 1000)));
    if (err.code === ErrorCode.payloadTooLarge) headers.connection = 'close';
    if (err.code === ErrorCode.methodNotAllowed) headers.allow = (err.fields.allow as string[]).join(', ');
    send(res, status, { error: err.code, ...err.fields }, headers);
    return;
  }
  log.error({ err }, 'http handler failed');
  send(res, 500, { error: ErrorCode.internal });
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new HubError(ErrorCode.payloadTooLarge, { max_bytes: max }));
      req.resume();
      return;
    }
    let chunks: Buffer[] | null = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // once answered 413, the rest is read and dropped so the answer reaches the client; past twice the cap, cut it off
      if (chunks === null) {
        if (size > 2 * max) req.destroy();
        return;
      }
      if (size > max) {
        chunks = null;
        reject(new HubError(ErrorCode.payloadTooLarge, { max_bytes: max }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (chunks) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    // node destroys the request with `aborted` when its socket closes early (FIN, RST, its request timeout)
    req.on('error', (err) => reject(new ClientGone('client went away', { cause: err })));
  });
}

const unauthorized = (hint: boolean) =>
  new HubError(ErrorCode.unauthorized, hint ? { hint: 'provide Authorization: Bearer <token>' } : {});

function authenticate(
  tokens: TokenCache,
  route: Compiled,
  req: IncomingMessage,
  query: URLSearchParams,
  params: Record<string, string>,
): string {
  if (route.auth === 'none') return '';
  const header = bearer(req.headers.authorization);
  if (route.auth === 'admin') {
    if (header && tokens.isAdmin(header)) return '';
    throw unauthorized(true);
  }
  const token = route.auth === 'auth' ? header : (header ?? query.get('token'));
  const found = token ? tokens.lookup(token) : null;
  if (!found) throw unauthorized(route.auth === 'auth');
  if (route.auth === 'own' && found.agent !== params.agent_id) throw unauthorized(false);
  return found.agent;
}

function limit(d: RouterDeps, route: Compiled, agent: string, ip: string): void {
  const action = route.action === undefined ? (route.auth === 'admin' ? null : 'http') : route.action;
  if (!action) return;
  const r = d.limiter.take(agent ? `a:${agent}` : `ip:${ip}`, action);
  if (r.allowed) return;
  if (agent) d.violations.record([], agent, Date.now());
  throw new HubError(ErrorCode.rateLimited, { retry_after_ms: Math.ceil(r.retryAfterMs / 1000) * 1000, action });
}

/**
 * The request target as a URL. A target node's parser lets through but no
 * URL parser takes (`//[`, `http://[`, a port over 65535) names no path at
 * all, so it is malformed HTTP like the framing node refuses itself (see
 * client-error.ts): 400 `bad_request`, not a 404.
 */
function requestUrl(target = '/'): URL {
  try {
    return new URL(target, 'http://hub');
  } catch {
    throw new HubError(ErrorCode.badRequest);
  }
}

/** Longest path parameter taken: above any id the hub hands out, and as UTF-8 well under lmdb's ~1,978-byte key limit. */
const PARAM_MAX = 512;

/**
 * Path parameters are input like body fields: an `:agent_id` meets the body
 * schemas' agent-id rule (through the validator, so log-only mode treats it
 * alike), and every parameter has a length bound, log-only mode or not, so
 * none reaches lmdb as an oversize key. 422 naming the parameter.
 */
function checkParams(validator: Validator, params: Record<string, string>): void {
  if (params.agent_id !== undefined) {
    const r = validator.body('agentPath', { agent_id: params.agent_id });
    if (!r.ok) throw new HubError(ErrorCode.validationFailed, { errors: r.errors });
  }
  for (const [field, value] of Object.entries(params)) {
    if (value.length <= PARAM_MAX) continue;
    const detail = `at most ${PARAM_MAX} characters`;
    throw new HubError(ErrorCode.validationFailed, { errors: [{ field, error: 'too_long', detail }] });
  }
}

/** A path no route serves is 404; a path served for other methods is 405 naming them (`Allow`). */
function notRouted(routes: Compiled[], path: string): HubError {
  const methods = new Set(routes.filter((r) => r.re.test(path)).map((r) => r.method));
  if (methods.size === 0) return new HubError(ErrorCode.notFound);
  if (methods.has('GET')) methods.add('HEAD');
  return new HubError(ErrorCode.methodNotAllowed, { allow: [...methods].sort() });
}

/** One request: route → auth → rate limit → body (size, JSON, depth, schema) → handler → reply. */
export function handler(d: RouterDeps, routes: Compiled[], rewrite: (path: string) => string = (p) => p) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = requestUrl(req.url);
      const path = rewrite(url.pathname);
      // HEAD is GET without the body (node leaves the body out of a HEAD answer)
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      let route: Compiled | undefined;
      let m: RegExpExecArray | null = null;
      for (const r of routes) {
        if (r.method !== method) continue;
        m = r.re.exec(path);
        if (m) {
          route = r;
          break;
        }
      }
      if (!route || !m) throw notRouted(routes, path);
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent((m as RegExpExecArray)[i + 1]);
        } catch {
          const detail = 'not a valid percent-encoded path segment';
          throw new HubError(ErrorCode.validationFailed, { errors: [{ field: k, error: 'wrong_type', detail }] });
        }
      });
      const ip = req.socket.remoteAddress ?? 'unknown';
      const agent = authenticate(d.tokens, route, req, url.searchParams, params);
      limit(d, route, agent, ip);
      checkParams(d.validator, params);
      let body: unknown;
      let raw: unknown;
      if (route.body) {
        const text = await readBody(req, d.maxBodyBytes);
        if (jsonDepthExceeds(text, d.maxDepth)) {
          const detail = `nested deeper than ${d.maxDepth} levels`;
          throw new HubError(ErrorCode.validationFailed, { errors: [{ field: 'message', error: 'too_long', detail }] });
        }
        try {
          raw = text === '' ? {} : JSON.parse(text);
        } catch {
          throw new HubError(ErrorCode.invalidJson);
        }
        if (holdsProtoKey(text, raw)) throw new HubError(ErrorCode.validationFailed, { errors: [PROTO_KEY_ERROR] });
        if (!isPlainObject(raw)) {
          const detail = 'a body must be a JSON object';
          const value =
            typeof raw === 'number' || typeof raw === 'boolean' || (typeof raw === 'string' && raw.length <= 64);
          const error = { field: 'message', error: 'wrong_type', detail, ...(value ? { value: raw } : {}) };
          throw new HubError(ErrorCode.validationFailed, { errors: [error] });
        }
        const parsed = d.validator.body(route.body, raw);
        if (!parsed.ok) throw new HubError(route.bodyError ?? ErrorCode.validationFailed, { errors: parsed.errors });
        body = parsed.value;
      } else req.resume();
      const parse = <K extends keyof HttpSchemas>(name: K): HttpBody<K> => {
        const q = d.validator.body(name, Object.fromEntries(url.searchParams));
        if (!q.ok) throw new HubError(ErrorCode.validationFailed, { errors: q.errors });
        return q.value;
      };
      const out = await route.handler({ req, params, body, raw, agent, ip, parse });
      if (out.stream) out.stream(res);
      else send(res, out.status ?? 200, out.body, out.headers, d.unsentMax);
    } catch (err) {
      sendError(res, err, d.log);
    }
  };
}

/** The `Idempotency-Key` header, else the body's `idempotency_key` (§9.28): at most 128 characters, never truncated. */
export function idempotencyKey(ctx: Ctx, fromBody: string | null | undefined): string | null {
  const header = ctx.req.headers['idempotency-key'];
  if (typeof header !== 'string' || header === '') return fromBody ?? null;
  if (header.length > IDEMPOTENCY_KEY_MAX) {
    const detail = `at most ${IDEMPOTENCY_KEY_MAX} characters`;
    throw new HubError(ErrorCode.validationFailed, {
      errors: [{ field: 'Idempotency-Key', error: 'too_long', detail }],
    });
  }
  return header;
}
