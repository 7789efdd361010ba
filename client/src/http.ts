import { ErrorCode } from '../../shared/errors.js';
import { backoffDelay } from './backoff.js';
import { AgentComError, ClientErrorCode } from './errors.js';
import type { TaskSubmitInput, TaskSubmitted, TaskView } from './frames.js';

export interface HttpOptions {
  /** `http://host:port` of the hub's public port */
  baseUrl: string;
  token: string;
  /** retries of 429 / 503 and of network failures (only for requests that are safe to repeat) */
  maxRetries: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ws://host:port/ws → http://host:port (wss → https). */
export function httpBaseOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '';
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

/** The hub's HTTP API with the agent's token, for what has no WebSocket frame. */
export class HubHttp {
  constructor(private readonly o: HttpOptions) {}

  /** POST /api/tasks; the idempotency key makes a retry after a lost reply return the same task. */
  submitTask(input: TaskSubmitInput, idempotencyKey: string): Promise<TaskSubmitted> {
    return this.request('POST', '/api/tasks', input, { 'idempotency-key': idempotencyKey });
  }

  /** POST /api/channels; false when it already existed (a repeat after a lost reply also lands there). */
  async createChannel(name: string, description?: string): Promise<boolean> {
    try {
      await this.request('POST', '/api/channels', { name, description });
      return true;
    } catch (err) {
      if ((err as AgentComError).code === ErrorCode.channelExists) return false;
      throw err;
    }
  }

  getTask(id: string): Promise<TaskView> {
    return this.request('GET', `/api/tasks/${encodeURIComponent(id)}`);
  }

  /** Every request here is safe to repeat: reads, writes with an idempotency key, and channel creation. */
  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(this.o.baseUrl + path, {
          method,
          headers: {
            authorization: `Bearer ${this.o.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (attempt >= this.o.maxRetries) {
          throw new AgentComError(ClientErrorCode.http, `${method} ${path}: ${(err as Error).message}`);
        }
        await sleep(backoffDelay(attempt));
        continue;
      }
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {}
      if (res.ok) return parsed as T;
      const err = AgentComError.from((parsed ?? {}) as Record<string, unknown>, { status: res.status });
      if ((res.status === 429 || res.status === 503) && attempt < this.o.maxRetries) {
        const header = Number(res.headers.get('retry-after'));
        await sleep(err.retryAfterMs ?? (header > 0 ? header * 1000 : backoffDelay(attempt)));
        continue;
      }
      throw err;
    }
  }
}
