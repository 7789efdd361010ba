// Rendering of the dashboard's panels from the live state; no requests here (app.js does them).

const $ = (id) => document.getElementById(id);
const LANES = ['urgent', 'high', 'normal', 'low'];
export const STATES = ['recent', 'scheduled', 'queued', 'assigned', 'completed', 'dead_letter'];

export const esc = (v) =>
  String(v ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');
const btn = (act, id, label, extra = '') =>
  `<button data-act="${esc(act)}" data-id="${esc(id)}"${extra}>${esc(label)}</button>`;
const bytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${Math.round((n ?? 0) / 1024)} KiB`);

/** A table: a header row, then one row per item (`row` gives its cells as HTML, `attrs` its attributes). */
function table(el, head, items, row, attrs = () => '') {
  const h = `<tr>${head.map((x) => `<th>${esc(x)}</th>`).join('')}</tr>`;
  const body = items.length
    ? items
        .map(
          (it) =>
            `<tr${attrs(it)}>${row(it)
              .map((c) => `<td>${c}</td>`)
              .join('')}</tr>`,
        )
        .join('')
    : `<tr><td class="muted" colspan="${head.length}">none</td></tr>`;
  el.innerHTML = h + body;
}

export function cards(S) {
  const f = S.figures?.by_status ?? {};
  const sys = S.health?.agents ?? {};
  const paused = S.figures?.paused;
  const items = [
    ['agents online', S.agents.size],
    ['working', (sys.working ?? 0) + (sys.assigned ?? 0)],
    ['scheduled', f.scheduled],
    ['queued', f.queued],
    ['assigned', f.assigned],
    ['completed', f.completed],
    ['dead letter', f.dead_letter],
    ['dependency failed', S.figures?.dependency_failed],
    ['removed (retention)', (S.figures?.removed?.completed ?? 0) + (S.figures?.removed?.dead_letter ?? 0)],
  ];
  const pausedText = paused?.all ? 'whole queue' : (paused?.lanes ?? []).map((l) => LANES[l]).join(', ');
  $('cards').innerHTML =
    items.map(([k, v]) => `<div class="card" data-card="${esc(k)}">${esc(k)}<b>${esc(v ?? 0)}</b></div>`).join('') +
    (pausedText ? `<div class="card paused">paused<b>${esc(pausedText)}</b></div>` : '');
}

function line(series, cls, max) {
  const n = series.length;
  if (n < 2) return '';
  const pts = series.map((v, i) => `${((i / (n - 1)) * 240).toFixed(1)},${(40 - ((v ?? 0) / max) * 38).toFixed(1)}`);
  return `<polyline class="${cls}" points="${pts.join(' ')}"></polyline>`;
}

export function sparks(S) {
  const pts = S.spark.slice(-120);
  const rate = [pts.map((p) => p.completed), pts.map((p) => p.failed)];
  const lat = [pts.map((p) => p.p50), pts.map((p) => p.p99)];
  for (const [id, [a, b]] of [
    ['spark-rate', rate],
    ['spark-lat', lat],
  ]) {
    const max = Math.max(1, ...a.map((v) => v ?? 0), ...b.map((v) => v ?? 0));
    const svg = $(id);
    svg.innerHTML = line(a, 'done', max) + line(b, 'fail', max);
    svg.dataset.max = String(max);
  }
}

export function agents(S) {
  const list = [...S.agents.values()].sort((a, b) => (a.agent_id < b.agent_id ? -1 : 1));
  table(
    $('agents'),
    ['agent', 'status', 'state', 'task', 'capabilities', 'connected', ''],
    list,
    (a) => [
      esc(a.agent_id),
      esc(a.status),
      `<span class="fsm">${esc(a.fsm_state)}</span>`,
      esc(a.current_task_id),
      esc((a.capabilities ?? []).join(', ')),
      esc(time(a.connected_at)),
      btn('disconnect', a.agent_id, 'disconnect'),
    ],
    (a) => ` data-id="${esc(a.agent_id)}"`,
  );
}

const taskCells = (t) => [
  `<code>${esc(t.id)}</code>`,
  `<span class="status">${esc(t.status)}</span>`,
  esc(LANES[t.priority] ?? t.priority),
  esc(t.description),
  esc(t.assigned_to ?? ''),
  esc(t.submitted_by),
  esc((t.needed_capabilities ?? []).join(', ')),
  esc(t.retry_count),
  esc(t.last_error ?? ''),
  esc(time(t.status === 'scheduled' ? (t.retry_at ?? t.run_at) : t.updated_at)),
];

export function tasks(view) {
  $('task-states').innerHTML = STATES.map(
    (s) => `<button data-state="${s}" class="${view.state === s ? 'on' : ''}">${esc(s.replace('_', ' '))}</button>`,
  ).join('');
  table(
    $('tasks'),
    ['id', 'status', 'lane', 'description', 'agent', 'submitter', 'needs', 'retries', 'last error', 'at'],
    view.rows,
    taskCells,
    (t) => ` class="clickable" data-id="${esc(t.id)}"`,
  );
  $('tasks-more').hidden = !view.cursor;
}

export function detail(t) {
  const el = $('task-detail');
  el.hidden = !t;
  if (!t) return;
  const actions =
    t.status === 'dead_letter'
      ? btn('retry', t.id, 'retry') + btn('cancel', t.id, 'cancel')
      : btn('cancel', t.id, 'cancel');
  const fields = [
    'status',
    'priority',
    'generation',
    'retry_count',
    'max_retries',
    'assigned_to',
    'last_error',
    'run_at',
  ];
  el.innerHTML =
    `<h3>${esc(t.id)} ${actions}<button data-act="close-detail">close</button></h3><p>${esc(t.description)}</p>` +
    `<pre>${esc(fields.map((k) => `${k}: ${JSON.stringify(t[k] ?? null)}`).join('\n'))}</pre><h3>History</h3><table id="history"></table>`;
  table($('history'), ['when', 'event', 'details'], t.history ?? [], (h) => [
    esc(time(h.timestamp)),
    esc(h.event),
    `<pre>${esc(JSON.stringify(h.details))}</pre>`,
  ]);
}

export function dead(S) {
  const list = [...S.dead.values()].sort((a, b) => a.updated_at - b.updated_at);
  table(
    $('dead'),
    ['', 'task', 'description', 'last error', 'retries', 'died', ''],
    list,
    (t) => [
      `<input type="checkbox" data-sel="${esc(t.id)}">`,
      `<code>${esc(t.id)}</code>`,
      esc(t.description),
      esc(t.last_error),
      esc(t.retry_count),
      esc(time(t.updated_at)),
      btn('retry', t.id, 'retry') + btn('cancel', t.id, 'cancel'),
    ],
    (t) => ` data-id="${esc(t.id)}"`,
  );
}

export function queue(S) {
  const p = S.figures?.paused ?? { all: false, lanes: [] };
  const row = (name, lane, paused) =>
    `<tr data-lane="${esc(name)}"><td>${esc(name)}</td><td class="${paused ? 'bad' : 'ok'}">${paused ? 'paused' : 'running'}</td><td>` +
    `<button data-act="${paused ? 'resume' : 'pause'}" data-lane="${esc(lane)}">${paused ? 'resume' : 'pause'}</button>` +
    `<button data-act="drain" data-lane="${esc(lane)}">drain</button></td></tr>`;
  $('queue').innerHTML =
    `<table><tr><th>lane</th><th>state</th><th></th></tr>${row('whole queue', '', p.all)}` +
    `${LANES.map((l, i) => row(l, l, p.lanes.includes(i))).join('')}</table>`;
}

export function alerts(S) {
  table(
    $('alerts'),
    ['rule', 'severity', 'message', 'since', ''],
    [...S.alerts.values()],
    (a) => [
      esc(a.rule_id),
      `<span class="${a.severity === 'critical' ? 'bad' : ''}">${esc(a.severity)}</span>`,
      esc(a.message),
      esc(time(a.fired_at)),
      a.acknowledged ? '<span class="muted acked">acknowledged</span>' : btn('ack', a.rule_id, 'acknowledge'),
    ],
    (a) => ` data-id="${esc(a.rule_id)}"`,
  );
}

export function channels(S) {
  const list = [...S.channels.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  table(
    $('channels'),
    ['channel', 'subscribers'],
    list,
    (c) => [esc(c.name), esc(c.subscriber_count)],
    (c) => ` class="clickable" data-channel="${esc(c.name)}"`,
  );
}

export function channelDetail(c) {
  const el = $('channel-detail');
  el.hidden = !c;
  if (c) {
    el.innerHTML = `<h3>#${esc(c.name)} <button data-act="close-channel">close</button></h3>${
      c.subscribers
        .map((a) => `${esc(a)}${c.online.includes(a) ? ' <span class="ok">online</span>' : ''}`)
        .join('<br>') || '<span class="muted">no subscribers</span>'
    }`;
  }
}

export function limited(S) {
  table(
    $('limited'),
    ['who', 'action', 'last refused', 'refusals'],
    [...S.limited.values()].sort((a, b) => b.at - a.at),
    (r) => [esc(r.key), esc(r.action), esc(time(r.at)), esc(r.count)],
  );
}

export function storage(S) {
  const r = S.storage ?? {};
  table($('storage'), ['table', 'records', 'file', 'free share', 'status'], r.tables ?? [], (t) => [
    esc(t.table),
    esc(t.record_count),
    esc(bytes(t.file_size_bytes)),
    esc(t.fragmentation_ratio?.toFixed(2)),
    esc(t.status),
  ]);
  const last = r.last_backup_at ? `, last backup ${new Date(r.last_backup_at).toLocaleString()}` : ', no backup yet';
  $('storage-health').textContent = r.health_status ? `storage ${r.health_status}${last}` : '';
  table($('backup-runs'), ['started', 'status', 'took', 'path or error'], S.backups.runs ?? [], (b) => [
    esc(time(b.started_at)),
    `<span class="${b.status === 'complete' ? 'ok' : 'bad'}">${esc(b.status)}</span>`,
    esc(`${b.duration_ms} ms`),
    esc(b.path ?? b.error),
  ]);
  table($('backups'), ['backup', 'status', 'size'], S.backups.stored ?? [], (b) => [
    esc(b.name),
    esc(b.status),
    esc(bytes(b.bytes)),
  ]);
}

export function workers(S) {
  const h = S.health ?? {};
  $('status').textContent = h.status ? `${h.status} · up ${Math.round((h.uptime_ms ?? 0) / 1000)} s` : '';
  table(
    $('workers'),
    ['domain', 'state', 'batches', 'requests', 'largest batch', 'waiting'],
    Object.entries(h.workers ?? {}),
    ([d, w]) => [
      esc(d),
      `<span class="${w.state === 'ready' ? 'ok' : 'bad'}">${esc(w.state)}</span>`,
      esc(w.batches),
      esc(w.items),
      esc(w.max_batch),
      esc(w.queued),
    ],
  );
}
