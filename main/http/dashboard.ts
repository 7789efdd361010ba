import type { Domain } from '../../shared/domains/domain.js';
import type { TaskApi } from '../../shared/domains/tasks.js';
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

/**
 * The operators' dashboard on the admin port (§9.1). The page is static and
 * holds no data; it asks for the admin token and polls /admin/overview with
 * it, and its actions (retry, cancel) are the admin routes themselves.
 */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AgentCom hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 1rem}h2{font-size:1rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left}
th{background:#f0f0f0}.ok{color:#176d17}.bad{color:#b00020}.muted{color:#777}
input{width:28rem;padding:.3rem}button{padding:.2rem .6rem;margin-right:.3rem}
#cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
</style></head><body>
<h1>AgentCom hub <span id="status" class="muted"></span></h1>
<label>Admin token <input id="token" type="password" autocomplete="off"></label>
<div id="error" class="bad"></div>
<div id="cards"></div>
<h2>Alerts</h2><table id="alerts"></table>
<h2>Workers</h2><table id="workers"></table>
<h2>Agents</h2><table id="agents"></table>
<h2>Dead letter</h2><table id="dead"></table>
<script>
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// a token in the fragment (#token=…, never sent to the server) is kept for this tab and taken out of the address bar
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { sessionStorage.setItem('agentcom-admin', fromHash); history.replaceState(null, '', location.pathname); }
$('token').value = sessionStorage.getItem('agentcom-admin') || '';
$('token').onchange = () => { sessionStorage.setItem('agentcom-admin', $('token').value); refresh(); };
const auth = () => ({ authorization: 'Bearer ' + $('token').value });
function table(el, head, rows) {
  el.innerHTML = '<tr>' + head.map((h) => '<th>' + esc(h) + '</th>').join('') + '</tr>' +
    (rows.length ? rows.map((r) => '<tr>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') : '<tr><td class="muted" colspan="' + head.length + '">none</td></tr>');
}
async function act(path) {
  const r = await fetch(path, { method: 'POST', headers: auth() });
  if (!r.ok) $('error').textContent = path + ': ' + (await r.text());
  refresh();
}
async function refresh() {
  try {
    const r = await fetch('/admin/overview', { headers: auth() });
    if (r.status === 401) { $('error').textContent = 'enter the admin token'; return; }
    const o = await r.json();
    $('error').textContent = '';
    $('status').textContent = o.health.status + ' · up ' + Math.round(o.health.uptime_ms / 1000) + ' s';
    $('status').className = o.health.status === 'ok' ? 'ok' : 'bad';
    const m = o.metrics;
    const cards = [['agents online', m.agent_utilization.system.agents_online], ['working', m.agent_utilization.system.agents_working],
      ['queued', o.tasks.by_status.queued], ['assigned', o.tasks.by_status.assigned], ['completed', o.tasks.by_status.completed],
      ['dead letter', o.tasks.dead_letter], ['task p99 ms', m.task_latency.window.p99], ['failure %', m.error_rates.window.failure_rate_pct]];
    $('cards').innerHTML = cards.map(([k, v]) => '<div class="card">' + esc(k) + '<b>' + esc(v) + '</b></div>').join('');
    table($('alerts'), ['rule', 'severity', 'message', 'since'], o.alerts.map((a) => [esc(a.rule_id), esc(a.severity), esc(a.message), esc(new Date(a.fired_at).toLocaleTimeString())]));
    table($('workers'), ['domain', 'state', 'batches', 'requests', 'largest batch', 'waiting'], Object.entries(o.health.workers).map(([d, w]) =>
      [esc(d), '<span class="' + (w.state === 'ready' ? 'ok' : 'bad') + '">' + esc(w.state) + '</span>', esc(w.batches), esc(w.items), esc(w.max_batch), esc(w.queued)]));
    table($('agents'), ['agent', 'status', 'state', 'task', 'capabilities', 'connected'], o.agents.map((a) =>
      [esc(a.agent_id), esc(a.status), esc(a.fsm_state), esc(a.current_task_id), esc(a.capabilities.join(', ')), esc(new Date(a.connected_at).toLocaleTimeString())]));
    table($('dead'), ['task', 'description', 'last error', 'retries', ''], o.dead_letter.map((t) =>
      [esc(t.id), esc(t.description.slice(0, 80)), esc(t.last_error), esc(t.retry_count),
       '<button onclick="act(\\'/api/tasks/' + esc(t.id) + '/retry\\')">retry</button><button onclick="act(\\'/api/tasks/' + esc(t.id) + '/cancel\\')">cancel</button>']));
  } catch (e) { $('error').textContent = String(e); }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>
`;

export const dashboardRoutes = (d: DashboardDeps): Route[] => [
  {
    method: 'GET',
    path: '/dashboard',
    auth: 'none',
    handler: () => ({ body: PAGE, headers: { 'content-type': 'text/html; charset=utf-8' } }),
  },
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
          agents: d.fleet.list().map((a) => ({
            ...a,
            fsm_state: d.scheduler.stateOf(a.agent_id),
            current_task_id: d.scheduler.taskOf(a.agent_id),
          })),
        },
      };
    },
  },
];
