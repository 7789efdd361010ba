import type * as v from 'valibot';
import type { Config } from '../shared/config.js';
import { UNBOUNDED } from '../shared/schemas/common.js';
import { type HttpSchemas, makeHttpSchemas } from '../shared/schemas/http.js';
import { check, type FieldError, onlyLimitIssues } from '../shared/schemas/validate.js';
import { makeWsSchemas, type WsSchemas } from '../shared/schemas/ws.js';
import type { Logger } from './log.js';

export type Outcome<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * Strict or log-only validation (§9.3). In log-only mode input that breaks
 * only a limit is still processed; the violation is logged and counted.
 */
export class Validator {
  readonly ws: WsSchemas;
  /** the same schemas without the payload-size check, for frames too small to break it */
  private readonly wsSmall: WsSchemas;
  private readonly payloadMax: number;
  readonly http: HttpSchemas;
  private readonly laxWs: WsSchemas | null;
  private readonly laxHttp: HttpSchemas | null;
  lenientAccepted = 0;

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    this.ws = makeWsSchemas(config);
    this.wsSmall = makeWsSchemas({ ...config, maxPayloadBytes: Number.MAX_SAFE_INTEGER });
    this.payloadMax = config.maxPayloadBytes;
    this.http = makeHttpSchemas(config);
    const lax = config.validationMode === 'log-only';
    this.laxWs = lax ? makeWsSchemas(UNBOUNDED) : null;
    this.laxHttp = lax ? makeHttpSchemas(UNBOUNDED) : null;
  }

  /** `frameBytes`: a frame no larger than the payload limit cannot hold a payload over it. */
  frame<K extends keyof WsSchemas>(type: K, input: unknown, frameBytes: number): Outcome<v.InferOutput<WsSchemas[K]>> {
    const strict = frameBytes <= this.payloadMax ? this.wsSmall[type] : this.ws[type];
    return this.run(strict, this.laxWs?.[type], input, type);
  }

  body<K extends keyof HttpSchemas>(name: K, input: unknown): Outcome<v.InferOutput<HttpSchemas[K]>> {
    return this.run(this.http[name], this.laxHttp?.[name], input, name);
  }

  private run<S extends v.GenericSchema>(strict: S, lax: S | undefined, input: unknown, what: string) {
    const r = check(strict, input);
    if (r.ok || !lax || !onlyLimitIssues(r.errors)) return r;
    const again = check(lax, input);
    if (!again.ok) return r;
    this.lenientAccepted++;
    this.log.warn({ what, errors: r.errors }, 'limit violation accepted (log-only mode)');
    return again;
  }
}
