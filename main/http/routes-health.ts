import { type ReadyDeps, readiness } from '../health.js';
import type { Route } from './router.js';

/** `GET /ready` on both ports, for load balancers and orchestrators: 200 when the hub takes writes, else 503 with the reasons. */
export const readyRoute = (d: ReadyDeps): Route => ({
  method: 'GET',
  path: '/ready',
  auth: 'none',
  action: null,
  handler: () => {
    const r = readiness(d);
    return r.ready
      ? { body: { status: 'ready', reasons: [] } }
      : { status: 503, body: { status: 'not_ready', reasons: r.reasons }, headers: { 'retry-after': '1' } };
  },
});
