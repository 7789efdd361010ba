import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode } from '../shared/errors.js';
import { hashToken } from '../shared/tokens.js';
import { BACKENDS, type ContractDomains, code, contractDomains } from './helpers/domain-backends.js';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The registry and channels contracts (shared/domains/) through `call`; the
 * messaging and tasks contracts have files of their own. Each backend runs
 * them all. Agent ids are each test's own.
 */
for (const backend of BACKENDS) {
  describe(`registry contract (${backend.name})`, () => {
    const ctx = contractDomains(backend);
    const call: ContractDomains['registry']['call'] = (op, args) => ctx.d.registry.call(op, args);
    const tokensOf = async (...agents: string[]) =>
      (await call('snapshot', {})).tokens.filter(([, agent]) => agents.includes(agent));

    test('tokens are 64 lower-hex, known by their SHA-256 hash; several per agent, listed as "<8 hex>..." prefixes', async () => {
      const [a1, a2, b1] = [
        await call('createToken', { agent_id: 'alice' }),
        await call('createToken', { agent_id: 'alice' }),
        await call('createToken', { agent_id: 'bob' }),
      ];
      for (const t of [a1, a2, b1]) {
        assert.match(t.token, HEX64);
        assert.equal(t.hash, hashToken(t.token));
      }
      assert.deepEqual([a1.agent_id, b1.agent_id], ['alice', 'bob']);
      assert.notEqual(a1.token, a2.token);
      const rows = (await call('listTokens', {})).items.filter((r) => ['alice', 'bob'].includes(r.agent_id));
      assert.equal(rows.length, 3);
      for (const row of rows) assert.match(row.token_prefix, /^[0-9a-f]{8}\.\.\.$/);
      assert.deepEqual(rows.map((r) => r.agent_id).sort(), ['alice', 'alice', 'bob']);
      const prefixes = new Set(rows.map((r) => r.token_prefix));
      for (const t of [a1, a2, b1]) assert.ok(prefixes.has(`${t.token.slice(0, 8)}...`));
      assert.deepEqual(
        (await tokensOf('alice', 'bob')).sort(),
        [
          [a1.hash, 'alice'],
          [a2.hash, 'alice'],
          [b1.hash, 'bob'],
        ].sort(),
        'the snapshot main caches: hash → agent',
      );
    });

    test('onboarding an agent id twice, or one holding an admin-issued token, is refused and writes nothing', async () => {
      const first = await call('onboard', { agent_id: 'newbie' });
      assert.deepEqual([first.agent_id, first.hash], ['newbie', hashToken(first.token)]);
      assert.match(first.token, HEX64);
      const taken = (agent_id: string) => call('onboard', { agent_id });
      await assert.rejects(taken('newbie'), (e) => code(e) === ErrorCode.agentIdTaken);
      assert.equal(ErrorCode.agentIdTaken, 'agent_id already registered');
      await call('createToken', { agent_id: 'issued' });
      await assert.rejects(taken('issued'), (e) => code(e) === ErrorCode.agentIdTaken);
      assert.equal((await tokensOf('newbie')).length, 1);
    });

    test('revoking removes every token of that agent and no other, even with a shared id prefix', async () => {
      const made = [];
      for (const agent_id of ['ann', 'ann', 'anna', 'an']) made.push(await call('createToken', { agent_id }));
      const revoked = await call('revokeAgent', { agent_id: 'ann' });
      assert.deepEqual([...revoked].sort(), [made[0].hash, made[1].hash].sort());
      assert.deepEqual((await tokensOf('ann', 'anna', 'an')).map(([, agent]) => agent).sort(), ['an', 'anna']);
      assert.deepEqual(await call('revokeAgent', { agent_id: 'ann' }), [], 'revoking again is a no-op');
      assert.equal((await call('onboard', { agent_id: 'ann' })).agent_id, 'ann', 'a revoked agent may onboard again');
    });

    test('reset revokes every token and issues one new one; an unknown agent is agent_not_found', async () => {
      const old = [await call('createToken', { agent_id: 'rita' }), await call('createToken', { agent_id: 'rita' })];
      const r = await call('resetToken', { agent_id: 'rita' });
      assert.deepEqual([...r.revoked].sort(), old.map((t) => t.hash).sort());
      assert.match(r.token, HEX64);
      assert.equal(r.hash, hashToken(r.token));
      assert.deepEqual(await tokensOf('rita'), [[r.hash, 'rita']]);
      await assert.rejects(call('resetToken', { agent_id: 'ghost' }), (e) => code(e) === ErrorCode.agentNotFound);
    });

    test('the admin token: generated once when none is provided; a provided one replaces it, kept as its hash', async () => {
      const gen = await call('ensureAdminToken', { provided: '' });
      assert.ok(gen.generated, 'generated on first start');
      assert.match(gen.generated, HEX64);
      assert.equal(gen.hash, hashToken(gen.generated));
      assert.deepEqual(await call('ensureAdminToken', { provided: '' }), { hash: gen.hash }, 'not generated twice');
      const provided = await call('ensureAdminToken', { provided: 'operator-secret' });
      assert.deepEqual(provided, { hash: hashToken('operator-secret') });
      assert.deepEqual(await call('ensureAdminToken', { provided: '' }), { hash: hashToken('operator-secret') });
    });

    test('rate-limit overrides merge per agent and can be removed', async () => {
      const first = await call('setOverrides', {
        agent_id: 'bot',
        overrides: { message: { capacity: 5, per_min: 10 } },
      });
      assert.deepEqual(first, { message: { capacity: 5, per_min: 10 } });
      const merged = await call('setOverrides', {
        agent_id: 'bot',
        overrides: { http: { capacity: 1, per_min: 1 }, message: { capacity: 7, per_min: 0 } },
      });
      assert.deepEqual(merged, { message: { capacity: 7, per_min: 0 }, http: { capacity: 1, per_min: 1 } });
      await call('setOverrides', { agent_id: 'other', overrides: { task_submit: { capacity: 2, per_min: 2 } } });
      const snap = (await call('snapshot', {})).overrides;
      assert.deepEqual([snap.bot, snap.other], [merged, { task_submit: { capacity: 2, per_min: 2 } }]);
      assert.equal(await call('removeOverrides', { agent_id: 'bot' }), true);
      assert.equal(await call('removeOverrides', { agent_id: 'bot' }), false, 'nothing left to remove');
      const after = (await call('snapshot', {})).overrides;
      assert.deepEqual([after.bot, after.other], [undefined, snap.other]);
      // an agent id that is also an object's prototype key keeps its overrides
      await call('setOverrides', { agent_id: '__proto__', overrides: { message: { capacity: 3, per_min: 3 } } });
      const proto = (await call('snapshot', {})).overrides;
      assert.ok(Object.hasOwn(proto, '__proto__'));
      assert.deepEqual(proto.__proto__, { message: { capacity: 3, per_min: 3 } });
      assert.equal(await call('removeOverrides', { agent_id: '__proto__' }), true);
    });

    test('the whitelist is replaced (sorted, no duplicates), added to and removed from', async () => {
      assert.deepEqual(await call('setWhitelist', { ids: ['zed', 'amy', 'zed'] }), ['amy', 'zed']);
      await call('addWhitelist', { id: 'bob' });
      await call('addWhitelist', { id: 'bob' });
      const whitelist = async () => (await call('snapshot', {})).whitelist;
      assert.deepEqual(await whitelist(), ['amy', 'bob', 'zed']);
      await call('removeWhitelist', { id: 'zed' });
      await call('removeWhitelist', { id: 'not-there' });
      assert.deepEqual(await whitelist(), ['amy', 'bob']);
      await call('setWhitelist', { ids: ['solo'] });
      assert.deepEqual(await whitelist(), ['solo'], 'a replace drops the old entries');
      await call('setWhitelist', { ids: [] });
      assert.deepEqual(await whitelist(), []);
    });

    test('config values are kept as given', async () => {
      await call('setConfig', { key: 'mailbox_ttl_ms', value: 5000 });
      await call('setConfig', { key: 'alert_thresholds', value: { queue_depth: 10, nested: { a: [1, 2] } } });
      await call('setConfig', { key: 'default_repo', value: null });
      assert.deepEqual((await call('snapshot', {})).config, {
        alert_thresholds: { queue_depth: 10, nested: { a: [1, 2] } },
        default_repo: null,
        mailbox_ttl_ms: 5000,
      });
    });
  });

  describe(`channels contract (${backend.name})`, () => {
    const ctx = contractDomains(backend);
    const call: ContractDomains['channels']['call'] = (op, args) => ctx.d.channels.call(op, args);

    test('create once, subscribe idempotently, the snapshot carries the subscribers', async () => {
      await call('create', { name: 'ops', description: 'd', by: 'alice' });
      await assert.rejects(
        call('create', { name: 'ops', description: 'd', by: 'alice' }),
        (e) => code(e) === 'channel_exists',
      );
      assert.equal(await call('subscribe', { name: 'ops', agent: 'bob' }), true);
      assert.equal(await call('subscribe', { name: 'ops', agent: 'bob' }), false);
      await assert.rejects(call('subscribe', { name: 'nope', agent: 'bob' }), (e) => code(e) === 'channel_not_found');
      assert.deepEqual(await call('snapshot', {}), [['ops', ['bob']]]);
      assert.deepEqual(await call('subscriptionsOf', { agent: 'bob' }), ['ops']);
      const list = await call('list', {});
      assert.deepEqual(
        list.items.map((c) => [c.name, c.subscriber_count]),
        [['ops', 1]],
      );
    });

    test('get gives the record and its subscribers; unsubscribe is true once; list pages by name', async () => {
      for (const name of ['pb', 'pa', 'pc']) await call('create', { name, description: `about ${name}`, by: 'carl' });
      await call('subscribe', { name: 'pa', agent: 'dora' });
      await call('subscribe', { name: 'pa', agent: 'eli' });
      const pa = await call('get', { name: 'pa' });
      assert.deepEqual(
        [pa.name, pa.description, pa.created_by, [...pa.subscribers].sort(), pa.subscriber_count],
        ['pa', 'about pa', 'carl', ['dora', 'eli'], 2],
      );
      assert.equal(typeof pa.created_at, 'number');
      await assert.rejects(call('get', { name: 'nope' }), (e) => code(e) === 'channel_not_found');
      assert.equal(await call('unsubscribe', { name: 'pa', agent: 'dora' }), true);
      assert.equal(await call('unsubscribe', { name: 'pa', agent: 'dora' }), false);
      await assert.rejects(
        call('unsubscribe', { name: 'nope', agent: 'dora' }),
        (e) => code(e) === 'channel_not_found',
      );
      assert.deepEqual((await call('get', { name: 'pa' })).subscribers, ['eli']);
      assert.deepEqual(await call('subscriptionsOf', { agent: 'dora' }), []);
      const names: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await call('list', { limit: 2, cursor });
        assert.ok(page.items.length <= 2);
        names.push(...page.items.map((c) => c.name));
        if (page.cursor === null) break;
        cursor = page.cursor;
      }
      assert.deepEqual(names, ['ops', 'pa', 'pb', 'pc'], 'every channel once, by name');
    });
  });

  describe(`what a domain takes (${backend.name})`, () => {
    const ctx = contractDomains(backend);

    test('finish is taken when the queue is full and while the domain closes; call is refused', async () => {
      const d = ctx.d.messaging;
      await d.pause();
      // fill the queue until a call is refused as overloaded
      const queued: Promise<unknown>[] = [];
      let refused: Error | null = null;
      while (!refused && queued.length < 1_000_000) {
        queued.push(
          new Promise<void>((res) =>
            d.submit('health', {}, (err) => {
              refused ??= err;
              res();
            }),
          ),
        );
        if (queued.length % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
      assert.equal(code(refused), ErrorCode.overloaded);
      await assert.rejects(d.call('health', {}), (e) => code(e) === ErrorCode.overloaded);
      const late = d.finish('health', {});
      const closing = d.close();
      await assert.rejects(d.call('health', {}), (e) => code(e) === ErrorCode.shuttingDown);
      const later = d.finish('health', {});
      d.resume();
      assert.equal(typeof (await late).last_seq, 'number', 'taken over the queue cap');
      assert.equal(typeof (await later).last_seq, 'number', 'taken while the domain closed');
      await closing;
      await assert.rejects(
        d.finish('health', {}),
        (e) => code(e) === ErrorCode.shuttingDown,
        'not after the last batch',
      );
      await Promise.all(queued);
    });
  });
}
