// The operators' dashboard: one live stream from the hub (GET /admin/live: a snapshot, then deltas), and the admin
// routes for every action. The admin token is typed in or passed once as #token=… (never sent in a URL).
import * as view from './view.js';

const $ = (id) => document.getElementById(id);
/** No event (a tick comes every second) for this long: the hub is unreachable. */
const STALL_MS = 5000;
const RECENT_MAX = 100;
const PAGE = 50;

const S = {
  figures: null,
  health: null,
  counters: {},
  agents: new Map(),
  recent: new Map(),
  dead: new Map(),
  alerts: new Map(),
  channels: new Map(),
  limited: new Map(),
  backups: { runs: [], stored: [] },
  storage: null,
  spark: [],
};
const taskView = { state: 'recent', filters: {}, rows: [], cursor: null };
let detailId = null;

// a token in the fragment (never sent to the server) is kept for this tab and taken out of the address bar
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) {
  sessionStorage.setItem('agentcom-admin', fromHash);
  history.replaceState(null, '', location.pathname);
}
$('token').value = sessionStorage.getItem('agentcom-admin') || '';
const auth = () => ({ authorization: `Bearer ${$('token').value}` });

/** Errors of actions stay until dismissed. */
function showError(text) {
  const li = document.createElement('li');
  li.textContent = text;
  const x = document.createElement('button');
  x.textContent = 'dismiss';
  x.onclick = () => li.remove();
  li.append(x);
  $('errors').append(li);
}

function setConn(state, text) {
  $('top').className = state;
  $('conn').textContent = text;
}

/** One request to the hub; a refusal or a network failure is shown and returns null. */
async function call(method, path, body) {
  try {
    const r = await fetch(path, {
      method,
      headers: { ...auth(), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (!r.ok) {
      showError(`${method} ${path}: ${r.status} ${text}`);
      return null;
    }
    return text ? JSON.parse(text) : {};
  } catch (e) {
    showError(`${method} ${path}: ${e}`);
    return null;
  }
}

// ---------- live state ----------

function putTask(id, row) {
  S.recent.delete(id);
  if (row) {
    S.recent.set(id, row);
    if (S.recent.size > RECENT_MAX) S.recent.delete(S.recent.keys().next().value);
  }
  if (row?.status === 'dead_letter') S.dead.set(id, row);
  else S.dead.delete(id);
  const i = taskView.rows.findIndex((t) => t.id === id);
  if (i >= 0) {
    if (row) taskView.rows[i] = row;
    else taskView.rows.splice(i, 1);
  } else if (row && row.status === taskView.state && !taskView.cursor && !Object.keys(taskView.filters).length) {
    taskView.rows.push(row);
  }
  if (id === detailId) loadDetail(id);
}

function apply(kind, msg) {
  if (kind === 'snapshot') {
    S.figures = msg.figures;
    S.health = msg.health;
    S.counters = msg.counters;
    S.agents = new Map(msg.agents.filter(Boolean).map((a) => [a.agent_id, a]));
    S.recent = new Map(msg.tasks.reverse().map((t) => [t.id, t]));
    S.dead = new Map(msg.dead.map((t) => [t.id, t]));
    S.alerts = new Map(msg.alerts.map((a) => [a.rule_id, a]));
    S.channels = new Map(msg.channels.map((c) => [c.name, c]));
    S.limited = new Map(msg.limited.map((r) => [r.key, r]));
    S.backups = msg.backups;
    S.storage = msg.storage;
    S.spark = msg.spark;
    loadTasks();
    return;
  }
  const c = msg.changes ?? {};
  const maps = { agents: S.agents, alerts: S.alerts, channels: S.channels, limited: S.limited };
  for (const [section, m] of Object.entries(maps)) {
    for (const [k, v] of Object.entries(c[section] ?? {})) {
      if (v === null) m.delete(k);
      else m.set(k, v);
    }
  }
  for (const [id, row] of Object.entries(c.tasks ?? {})) putTask(id, row);
  if (c.figures?.tasks) S.figures = c.figures.tasks;
  if (c.backups?.runs) {
    S.backups.runs = c.backups.runs;
    call('GET', '/admin/backups').then((b) => {
      if (!b) return;
      S.backups.stored = b.backups;
      render();
    });
  }
  if (c.storage?.report) S.storage = c.storage.report;
  if (msg.health) S.health = msg.health;
  if (msg.counters) S.counters = msg.counters;
  if (msg.spark && S.spark.at(-1)?.t !== msg.spark.t) S.spark = [...S.spark.slice(-119), msg.spark];
}

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (taskView.state === 'recent' && !Object.keys(taskView.filters).length) {
      taskView.rows = [...S.recent.values()].reverse();
    }
    const panels = [view.cards, view.sparks, view.agents, view.dead, view.queue, view.alerts, view.channels];
    for (const panel of [...panels, view.limited, view.storage, view.workers]) panel(S);
    view.tasks(taskView);
  });
}

// ---------- the stream ----------

let stream = null;
async function connect() {
  const ctrl = new AbortController();
  stream = ctrl;
  let last = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - last > STALL_MS) ctrl.abort();
  }, 1000);
  try {
    setConn('connecting', 'connecting…');
    const r = await fetch('/admin/live', { headers: auth(), signal: ctrl.signal });
    if (r.status === 401) {
      setConn('down', 'enter the admin token');
      return;
    }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      last = Date.now();
      buf += dec.decode(value, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const name = /^event: (.*)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (!name || !data) continue;
        apply(name, JSON.parse(data));
        if (name === 'snapshot') setConn('live', 'live');
        render();
      }
    }
    throw new Error('stream ended');
  } catch (e) {
    if (stream !== ctrl) return;
    setConn('down', `hub unreachable (${e.name === 'AbortError' ? 'no events' : e.message}); retrying`);
    setTimeout(() => stream === ctrl && connect(), 1000);
  } finally {
    clearInterval(watchdog);
  }
}

function reconnect() {
  stream?.abort();
  stream = null;
  connect();
}

// ---------- tasks panel ----------

async function loadTasks(more = false) {
  const f = taskView.filters;
  if (taskView.state === 'recent' && !Object.keys(f).length) {
    taskView.cursor = null;
    render();
    return;
  }
  const q = new URLSearchParams({ limit: String(PAGE), ...f });
  if (taskView.state !== 'recent') q.set('status', taskView.state);
  if (more && taskView.cursor) q.set('cursor', taskView.cursor);
  const page = await call('GET', `/api/tasks?${q}`);
  if (!page) return;
  taskView.rows = more ? [...taskView.rows, ...page.tasks] : page.tasks;
  taskView.cursor = page.cursor;
  render();
}

async function loadDetail(id) {
  detailId = id;
  const t = id ? await call('GET', `/api/tasks/${encodeURIComponent(id)}`) : null;
  if (id && !t) detailId = null;
  view.detail(t);
}

$('task-search').onsubmit = (e) => {
  e.preventDefault();
  const data = Object.fromEntries([...new FormData(e.target)].filter(([, v]) => v !== ''));
  taskView.filters = data;
  loadTasks();
};
$('tasks-more').onclick = () => loadTasks(true);

// ---------- actions ----------

const ACTIONS = {
  disconnect: (id) => call('POST', `/admin/agents/${encodeURIComponent(id)}/disconnect`),
  retry: (id) => call('POST', `/api/tasks/${encodeURIComponent(id)}/retry`),
  cancel: (id) => call('POST', `/api/tasks/${encodeURIComponent(id)}/cancel`),
  ack: (id) => call('POST', `/api/alerts/${encodeURIComponent(id)}/acknowledge`),
  pause: (_id, lane) => call('POST', '/admin/queue/pause', lane ? { lane } : {}),
  resume: (_id, lane) => call('POST', '/admin/queue/resume', lane ? { lane } : {}),
  drain: (_id, lane) =>
    confirm(`Delete every queued task of ${lane || 'every lane'}?`) &&
    call('POST', '/admin/queue/drain', lane ? { lane } : {}),
  'close-detail': () => loadDetail(null),
  'close-channel': () => view.channelDetail(null),
};

const selected = () => [...document.querySelectorAll('input[data-sel]:checked')].map((x) => x.dataset.sel);
const BULK = {
  'retry-selected': () => call('POST', '/admin/dead-letter/retry', { task_ids: selected() }),
  'clean-selected': () => call('POST', '/admin/dead-letter/clean', { task_ids: selected() }),
  'retry-all': () => call('POST', '/admin/dead-letter/retry', {}),
  'clean-all': () => confirm('Delete every dead letter?') && call('POST', '/admin/dead-letter/clean', {}),
};

document.addEventListener('click', async (e) => {
  const el = e.target.closest('button, tr.clickable');
  if (!el) return;
  if (el.dataset.act) {
    el.disabled = true;
    await ACTIONS[el.dataset.act]?.(el.dataset.id, el.dataset.lane);
    el.disabled = false;
  } else if (el.dataset.bulk) {
    const r = await BULK[el.dataset.bulk]();
    if (r?.failed_count) showError(`${el.dataset.bulk}: ${r.failed_count} failed: ${JSON.stringify(r.failed)}`);
  } else if (el.dataset.state) {
    taskView.state = el.dataset.state;
    loadTasks();
  } else if (el.id === 'backup-now') {
    el.disabled = true;
    await call('POST', '/admin/backup');
    el.disabled = false;
  } else if (el.dataset.channel) {
    view.channelDetail(await call('GET', `/admin/channels/${encodeURIComponent(el.dataset.channel)}`));
  } else if (el.matches('tr.clickable[data-id]')) {
    loadDetail(el.dataset.id);
  }
});

$('token').onchange = () => {
  sessionStorage.setItem('agentcom-admin', $('token').value);
  reconnect();
};

connect();
