import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { connectAgent, type TestClient } from './helpers/client.js';
import { ADMIN_TOKEN, api, startTestHub, type TestHub, tokenFor, whitelist } from './helpers/hub.js';

/** Debian's chromium; `.ci/run` installs it. Never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const WAIT = 15_000;

/** Waits until the text of the first element matching `selector` is `text` (or matches it). */
async function textIs(page: Page, selector: string, text: string | RegExp): Promise<void> {
  const re = typeof text === 'string' ? `^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` : text.source;
  await page.waitForFunction(
    ([sel, src]) => new RegExp(src).test(document.querySelector(sel)?.textContent?.trim() ?? ''),
    [selector, re] as const,
    { timeout: WAIT, polling: 50 },
  );
}

describe('the live dashboard in a real browser', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} missing` }, () => {
  let hub: TestHub;
  let browser: Browser;
  let page: Page;
  const tok: Record<string, string> = {};
  const agents: TestClient[] = [];

  before(async () => {
    hub = await startTestHub({ alertCheckMs: 50, restartGraceMs: 0 });
    for (const a of ['sub', 'ui-worker', 'ui-late', 'ui-fails']) tok[a] = await tokenFor(hub, a);
    await whitelist(hub, 'sub', 'ui-worker', 'ui-late', 'ui-fails');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    page = await browser.newPage();
    await page.goto(`${hub.adminUrl}/dashboard#token=${ADMIN_TOKEN}`);
    await page.waitForSelector('#top.live', { timeout: WAIT });
  });
  after(async () => {
    for (const c of agents) c.close();
    await browser?.close();
    await hub?.stop();
  });

  const submit = async (body: object) =>
    (await api(hub.url, 'POST', '/api/tasks', { token: tok.sub, body })).body.task_id as string;

  test('the token leaves the address bar; the page is live without a poll', async () => {
    assert.equal(new URL(page.url()).hash, '');
    const asked: string[] = [];
    page.on('request', (r) => asked.push(new URL(r.url()).pathname));
    await page.waitForTimeout(300);
    assert.deepEqual(asked, [], 'deltas arrive on the open stream');
  });

  test('a connecting agent appears, with its state', async () => {
    const w = await connectAgent(hub.wsUrl, 'ui-worker', tok['ui-worker'], { capabilities: ['ui'] });
    agents.push(w);
    await textIs(page, '#agents tr[data-id="ui-worker"] .fsm', 'idle');
  });

  test('a task moves through its states on the page', async () => {
    const later = await submit({ description: 'not yet', delay_ms: 600_000 });
    await textIs(page, `#tasks tr[data-id="${later}"] .status`, 'scheduled');
    // nobody covers both capabilities until ui-late connects: queued, then assigned, then (after accept) working
    const id = await submit({ description: 'watch me', needed_capabilities: ['ui', 'late'] });
    const status = `#tasks tr[data-id="${id}"] .status`;
    await textIs(page, status, 'queued');
    const w = await connectAgent(hub.wsUrl, 'ui-late', tok['ui-late'], { capabilities: ['ui', 'late'] });
    agents.push(w);
    const assign = await w.next('task_assign', (f) => f.task_id === id, WAIT);
    await textIs(page, status, 'assigned');
    await textIs(page, '#agents tr[data-id="ui-late"] .fsm', 'assigned');
    w.send({ type: 'task_accepted', task_id: id });
    await textIs(page, '#agents tr[data-id="ui-late"] .fsm', 'working');
    w.send({ type: 'task_complete', task_id: id, generation: assign.generation, result: { ok: true } });
    await textIs(page, status, 'completed');
    await api(hub.adminUrl, 'POST', `/api/tasks/${later}/cancel`, { token: ADMIN_TOKEN });
    await page.waitForSelector(`#tasks tr[data-id="${later}"]`, { state: 'detached', timeout: WAIT });
    await page.click(`#tasks tr[data-id="${id}"]`);
    await textIs(page, '#history tr:nth-child(2) td:nth-child(2)', 'completed');
    await page.waitForSelector('#spark-rate polyline', { timeout: WAIT });
  });

  test('a dead letter is retried by a click', async () => {
    const id = await submit({ description: 'doomed', needed_capabilities: ['fails'], max_retries: 1 });
    const f = await connectAgent(hub.wsUrl, 'ui-fails', tok['ui-fails'], { capabilities: ['fails'] });
    const a = await f.next('task_assign', (x) => x.task_id === id, WAIT);
    f.send({ type: 'task_failed', task_id: id, generation: a.generation, error: 'boom' });
    await f.next('task_ack', (x) => x.task_id === id, WAIT);
    f.close();
    await page.waitForSelector(`#dead tr[data-id="${id}"]`, { timeout: WAIT });
    await page.click(`#dead tr[data-id="${id}"] button[data-act="retry"]`);
    await page.waitForSelector(`#dead tr[data-id="${id}"]`, { state: 'detached', timeout: WAIT });
    const t = (await api(hub.adminUrl, 'GET', `/api/tasks/${id}`, { token: ADMIN_TOKEN })).body;
    assert.equal(t.status, 'queued');
    assert.deepEqual(t.history[0].details, { retry: true });
    await page.click('button[data-state="queued"]');
    await textIs(page, `#tasks tr[data-id="${id}"] .status`, 'queued');
  });

  test('an alert is acknowledged by a click; a refused action stays visible', async () => {
    const dep = await submit({ description: 'dep', needed_capabilities: ['nobody'] });
    await submit({ description: 'child', depends_on: [dep] });
    await api(hub.adminUrl, 'POST', `/api/tasks/${dep}/cancel`, { token: ADMIN_TOKEN });
    const ack = '#alerts tr[data-id="dependency_failed"] button[data-act="ack"]';
    await page.waitForSelector(ack, { timeout: WAIT });
    await page.click(ack);
    await page.waitForSelector('#alerts tr[data-id="dependency_failed"] .acked', { timeout: WAIT });
    const alerts = (await api(hub.url, 'GET', '/api/alerts')).body.alerts;
    assert.equal(alerts.find((x: { rule_id: string }) => x.rule_id === 'dependency_failed').acknowledged, true);

    await page.evaluate(() =>
      document.body.insertAdjacentHTML(
        'beforeend',
        '<button type="button" id="bogus" data-act="retry" data-id="task-ffffffffffffffff">x</button>',
      ),
    );
    await page.click('#bogus');
    await textIs(page, '#errors li', /task-ffffffffffffffff.*404.*task_not_found/);
    await page.waitForTimeout(1500);
    await textIs(page, '#errors li', /404/);
  });

  test('channels show their subscribers', async () => {
    await api(hub.url, 'POST', '/api/channels', { token: tok.sub, body: { name: 'ui-news' } });
    await agents[0].request({ type: 'channel_subscribe', channel: 'ui-news' }, 'channel_subscribed');
    await textIs(page, '#channels tr[data-channel="ui-news"] td:nth-child(2)', '1');
  });

  test('a backup started from the page shows its result; an agent is disconnected by a click', async () => {
    await page.click('#backup-now');
    await textIs(page, '#backup-runs tr:nth-child(2) td:nth-child(2)', 'complete');
    await page.waitForSelector('#backups tr:nth-child(2)', { timeout: WAIT });
    const w = agents[0];
    await page.click('#agents tr[data-id="ui-worker"] button[data-act="disconnect"]');
    assert.equal((await w.waitClose(WAIT)).code, 4000);
    await page.waitForSelector('#agents tr[data-id="ui-worker"]', { state: 'detached', timeout: WAIT });
  });

  test('the header turns red when the hub is unreachable', async () => {
    await hub.stop();
    await page.waitForSelector('#top.down', { timeout: WAIT });
    assert.match((await page.textContent('#conn')) ?? '', /unreachable/);
  });
});
