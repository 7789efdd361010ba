import { readFileSync } from 'node:fs';
import type { Domain } from '../../shared/domains/domain.js';
import type { TaskApi } from '../../shared/domains/tasks.js';
import { ErrorCode, HubError } from '../../shared/errors.js';
import { taskView } from '../../shared/schemas/tasks.js';
import type { Alerts } from '../alerts.js';
import type { Fleet } from '../fleet.js';
import type { Scheduler } from '../scheduler.js';
import type { Route } from './router.js';

export interface DashboardDeps {
  tasks: Domain<TaskApi>;
  fleet: Fleet;
  scheduler: Scheduler;
  alerts: Alerts;
  health: () => unknown;
  metricsApi: () => unknown;
}

/** The page's files, read once; served as they are (no build step: plain ES modules). */
const ASSETS: Record<string, [string, string]> = {
  'index.html': ['text/html; charset=utf-8', ''],
  'app.js': ['text/javascript; charset=utf-8', ''],
  'view.js': ['text/javascript; charset=utf-8', ''],
  'app.css': ['text/css; charset=utf-8', ''],
};
for (const name of Object.keys(ASSETS)) {
  ASSETS[name][1] = readFileSync(new URL(`./dashboard/${name}`, import.meta.url), 'utf8');
}
const asset = (name: string) => {
  if (!Object.hasOwn(ASSETS, name)) throw new HubError(ErrorCode.notFound);
  const a = ASSETS[name];
  return { body: a[1], headers: { 'content-type': a[0], 'cache-control': 'no-cache' } };
};

/**
 * The operators' dashboard on the admin port (§9.1). The page holds no data
 * and no token: it asks for the admin token (or takes `#token=…` once),
 * follows `GET /admin/live` with it (a snapshot, then deltas) and acts
 * through the admin routes themselves. `/admin/overview` stays for scripts.
 */
export const dashboardRoutes = (d: DashboardDeps): Route[] => [
  { method: 'GET', path: '/dashboard', auth: 'none', handler: () => asset('index.html') },
  { method: 'GET', path: '/dashboard/:file', auth: 'none', handler: ({ params }) => asset(params.file) },
  {
    method: 'GET',
    path: '/admin/overview',
    auth: 'admin',
    handler: async () => {
      const [tasks, dead] = await Promise.all([
        d.tasks.call('stats', {}),
        d.tasks.call('list', { status: 'dead_letter', limit: 100 }),
      ]);
      return {
        body: {
          health: d.health(),
          metrics: d.metricsApi(),
          alerts: d.alerts.list(),
          tasks,
          dead_letter: dead.tasks.map(taskView),
          agents: d.fleet.list().map((a) => d.scheduler.withState(a)),
        },
      };
    },
  },
];
