// Runs Okta's official Node SDK (@okta/okta-sdk-nodejs) against `remedy sim`, doing what okta-remedy
// does: read users by id and by login, list, search and filter users across pages, read the Org2Org app
// and its users, reset and expire passwords, lifecycle calls, and the System Log.
//
// Environment: HUB_URL, HUB_TOKEN, SPOKE_URL, SPOKE_TOKEN (the org URLs and SSWS tokens `remedy sim`
// prints); optionally CLIENT_ID, PRIVATE_KEY_FILE and KEY_ID of a service app registered in the
// simulator, to read and write users with `authorizationMode: PrivateKey` (private-key JWT, DPoP). Prints one `ok <step>` line per passing step and exits 0, or prints `FAIL <step>: <why>` and
// exits 1 at the first failure. Driven by tests/it/node_sdk.rs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import okta from '@okta/okta-sdk-nodejs';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.log(`FAIL setup: ${name} is not set`);
    process.exit(1);
  }
  return value;
};

// Records every request URL, so the test can see the SDK followed `Link` headers.
class RecordingExecutor extends okta.DefaultRequestExecutor {
  constructor() {
    super();
    this.urls = [];
  }
  fetch(request) {
    this.urls.push(request.url);
    return super.fetch(request);
  }
}

const client = (url, token) => {
  const requestExecutor = new RecordingExecutor();
  // No response cache: every read must see the writes before it.
  const c = new okta.Client({ orgUrl: url, token, requestExecutor, cacheMiddleware: null });
  return { c, requests: requestExecutor };
};

const hub = client(env('HUB_URL'), env('HUB_TOKEN'));
const spoke = client(env('SPOKE_URL'), env('SPOKE_TOKEN'));

const all = async (collection) => {
  const items = [];
  for await (const item of collection) {
    items.push(item);
  }
  return items;
};

let step = 'setup';
const ok = (detail) => console.log(`ok ${step}${detail ? `: ${detail}` : ''}`);

try {
  step = 'list users across pages';
  const before = hub.requests.urls.length;
  const users = await all(await hub.c.userApi.listUsers({ limit: 50 }));
  const pages = hub.requests.urls.slice(before).filter((u) => u.includes('/api/v1/users')).length;
  assert.ok(users.length > 100, `only ${users.length} users`);
  assert.ok(pages >= 3, `${pages} pages for ${users.length} users`);
  assert.equal(new Set(users.map((u) => u.id)).size, users.length, 'a user was listed twice');
  assert.ok(hub.requests.urls.slice(before + 1).every((u) => u.includes('after=')), 'next page without a cursor');
  ok(`${users.length} users in ${pages} pages`);

  // Password calls need Okta-mastered credentials (Okta refuses them for FEDERATION users).
  const active = users.filter((u) => u.status === 'ACTIVE' && u.credentials?.provider?.type === 'OKTA');
  assert.ok(active.length >= 5, 'fewer than five ACTIVE users with OKTA credentials');
  const anita = active[0];

  step = 'get user by id';
  const byId = await hub.c.userApi.getUser({ userId: anita.id });
  assert.equal(byId.profile.login, anita.profile.login);
  assert.equal(byId.status, 'ACTIVE');
  assert.ok(byId.created instanceof Date && byId.lastUpdated instanceof Date, 'dates not parsed');
  ok(anita.id);

  step = 'get user by percent-encoded login';
  const byLogin = await hub.c.userApi.getUser({ userId: anita.profile.login });
  assert.equal(byLogin.id, anita.id);
  const encoded = hub.requests.urls.at(-1);
  assert.ok(encoded.includes('%40'), `login not percent-encoded in ${encoded}`);
  ok(anita.profile.login);

  step = 'unknown user is a 404 with an Okta error body';
  await assert.rejects(hub.c.userApi.getUser({ userId: 'nobody-here@example.com' }), (e) => {
    assert.equal(e.status, 404);
    assert.equal(e.errorCode, 'E0000007');
    assert.ok(e.errorSummary && e.errorId, 'errorSummary or errorId missing');
    return true;
  });
  ok();

  step = 'filter users';
  const filtered = await all(
    await hub.c.userApi.listUsers({ filter: `profile.login eq "${anita.profile.login}"` }),
  );
  assert.deepEqual(filtered.map((u) => u.id), [anita.id]);
  ok();

  step = 'search users across pages';
  const sBefore = hub.requests.urls.length;
  const searched = await all(await hub.c.userApi.listUsers({ search: 'status eq "ACTIVE"', limit: 40 }));
  const sPages = hub.requests.urls.length - sBefore;
  const activeCount = users.filter((u) => u.status === 'ACTIVE').length;
  assert.equal(searched.length, activeCount, 'search disagrees with the full list');
  assert.ok(searched.every((u) => u.status === 'ACTIVE'), 'search returned a user not ACTIVE');
  assert.ok(sPages >= 2, `search in ${sPages} page(s)`);
  ok(`${searched.length} ACTIVE users in ${sPages} pages`);

  step = 'read the Org2Org app';
  const apps = await all(await spoke.c.applicationApi.listApplications({}));
  const org2org = apps.find((a) => a.name === 'okta_org2org');
  assert.ok(org2org, `no okta_org2org app among ${apps.map((a) => a.name).join(', ')}`);
  const app = await spoke.c.applicationApi.getApplication({ appId: org2org.id });
  assert.equal(app.id, org2org.id);
  assert.equal(app.status, 'ACTIVE');
  ok(`${app.label} (${app.id})`);

  step = 'list app users across pages';
  const aBefore = spoke.requests.urls.length;
  const appUsers = await all(await spoke.c.applicationApi.listApplicationUsers({ appId: app.id, limit: 20 }));
  const aPages = spoke.requests.urls.length - aBefore;
  assert.ok(appUsers.length >= 20, `only ${appUsers.length} app users`);
  assert.ok(aPages >= 2, `app users in ${aPages} page(s)`);
  const failing = appUsers.filter((au) => au.syncState === 'ERROR');
  assert.ok(failing.length > 0, 'no app user in syncState ERROR');
  const one = await spoke.c.applicationApi.getApplicationUser({ appId: app.id, userId: failing[0].id });
  assert.equal(one.syncState, 'ERROR');
  assert.equal(one.scope === 'USER' || one.scope === 'GROUP', true, `scope ${one.scope}`);
  ok(`${appUsers.length} app users in ${aPages} pages, ${failing.length} in ERROR`);

  step = "a user's groups and app links";
  const groups = await all(await hub.c.userApi.listUserGroups({ userId: anita.id }));
  assert.ok(groups.every((g) => g.id && g.profile && g.profile.name), 'group without id or name');
  const links = await all(await hub.c.userApi.listAppLinks({ userId: anita.id }));
  assert.ok(links.every((l) => l.appInstanceId && l.appName), 'app link without app');
  ok(`${groups.length} groups, ${links.length} app links`);

  step = 'reset password';
  const target = active[1];
  const token = await hub.c.userApi.generateResetPasswordToken({ userId: target.id, sendEmail: false });
  assert.ok(typeof token.resetPasswordUrl === 'string' && token.resetPasswordUrl.startsWith('http'), 'no reset URL');
  assert.equal((await hub.c.userApi.getUser({ userId: target.id })).status, 'RECOVERY');
  ok();

  step = 'a password call on a FEDERATION user is refused as Okta does';
  const federated = users.find((u) => u.status === 'ACTIVE' && u.credentials?.provider?.type === 'FEDERATION');
  assert.ok(federated, 'no ACTIVE FEDERATION user');
  await assert.rejects(hub.c.userApi.expirePassword({ userId: federated.id }), (e) => {
    assert.equal(e.status, 403);
    assert.equal(e.errorCode, 'E0000038');
    return true;
  });
  ok();

  step = 'expire password';
  const expired = await hub.c.userApi.expirePassword({ userId: active[2].id });
  assert.equal(expired.id, active[2].id);
  assert.equal(expired.status, 'PASSWORD_EXPIRED');
  ok();

  step = 'suspend and unsuspend';
  const s = active[3];
  await hub.c.userApi.suspendUser({ userId: s.id });
  assert.equal((await hub.c.userApi.getUser({ userId: s.id })).status, 'SUSPENDED');
  await hub.c.userApi.unsuspendUser({ userId: s.id });
  assert.equal((await hub.c.userApi.getUser({ userId: s.id })).status, 'ACTIVE');
  ok();

  step = 'a lifecycle call in the wrong state is refused with an Okta error body';
  await assert.rejects(hub.c.userApi.unsuspendUser({ userId: s.id }), (e) => {
    assert.ok([400, 403].includes(e.status), `status ${e.status}`);
    assert.ok(e.errorCode && e.errorCode.startsWith('E0000') && e.errorSummary, `errorCode ${e.errorCode}`);
    return true;
  });
  ok();

  step = 'deactivate and activate';
  await hub.c.userApi.deactivateUser({ userId: s.id });
  assert.equal((await hub.c.userApi.getUser({ userId: s.id })).status, 'DEPROVISIONED');
  await hub.c.userApi.activateUser({ userId: s.id, sendEmail: false });
  const reactivated = (await hub.c.userApi.getUser({ userId: s.id })).status;
  assert.ok(['ACTIVE', 'PROVISIONED'].includes(reactivated), `status ${reactivated} after activate`);
  ok(reactivated);

  step = 'System Log';
  // Without `until` an ascending query is a poll: Okta always answers a `next` link, so the SDK's
  // iterator would never end. A bounded window ends.
  const since = new Date(Date.now() - 3600 * 1000).toISOString();
  const until = new Date(Date.now() + 1000).toISOString();
  const events = await all(
    await hub.c.systemLogApi.listLogEvents({ since, until, filter: 'eventType eq "user.account.reset_password"' }),
  );
  assert.ok(
    events.some((e) => (e.target || []).some((t) => t.id === target.id)),
    `no reset_password event for ${target.id} among ${events.length}`,
  );
  assert.ok(events.every((e) => e.published instanceof Date && e.uuid), 'event without published or uuid');
  ok(`${events.length} events`);

  // A service app (OAuth 2.0 client credentials with a private-key JWT) when the test registered one:
  // the SDK asks for a token, meets the simulator's DPoP nonce challenge, and sends DPoP proofs.
  if (process.env.CLIENT_ID) {
    step = 'PrivateKey service app with DPoP';
    const requestExecutor = new RecordingExecutor();
    const svc = new okta.Client({
      orgUrl: env('HUB_URL'),
      authorizationMode: 'PrivateKey',
      clientId: env('CLIENT_ID'),
      scopes: ['okta.users.read', 'okta.users.manage'],
      privateKey: readFileSync(env('PRIVATE_KEY_FILE'), 'utf8'),
      keyId: env('KEY_ID'),
      requestExecutor,
      cacheMiddleware: null,
    });
    const viaOAuth = await all(await svc.userApi.listUsers({ limit: 100 }));
    assert.equal(viaOAuth.length, users.length, 'the service app sees another user list');
    assert.equal(svc.oauth.isDPoP, true, 'the token is not DPoP-bound');
    const again = await svc.userApi.getUser({ userId: active[4].profile.login });
    assert.equal(again.id, active[4].id);
    const expiredViaOAuth = await svc.userApi.expirePassword({ userId: active[4].id });
    assert.equal(expiredViaOAuth.status, 'PASSWORD_EXPIRED');
    assert.ok(requestExecutor.urls.some((u) => u.endsWith('/oauth2/v1/token')), 'no token request');
    ok(`${viaOAuth.length} users, DPoP-bound token`);
  }

  console.log(`all steps passed (${hub.requests.urls.length} hub and ${spoke.requests.urls.length} spoke requests)`);
} catch (e) {
  console.log(`FAIL ${step}: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
}
