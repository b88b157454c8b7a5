// The inspector web app in a real browser (Debian's headless Chromium)
// against the real server: enroll, record offline with real photos, start
// again offline from the service worker, sync when the network returns, and
// check what the office receives. Screenshots of each screen are saved to
// target/browser-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { adminToken, launch, makeJpeg, officeFindings, onScreen, phoneContext, shot, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const unsynced = async (page) => Number(await page.textContent('#home-unsynced'));

async function recordFinding(page, { search, category, card, photos, note }) {
  await page.tap('#new-finding');
  await onScreen(page, 'record');
  // The nearest points are listed from the position taken at the start.
  await page.waitForSelector('#loc[data-accuracy]:not([data-accuracy=""])');
  await page.waitForSelector('#points button[data-point]');
  if (search) {
    await page.fill('#point-search', search);
    // The list follows the search box: only matching points remain.
    await page.waitForFunction((q) => {
      const names = [...document.querySelectorAll('#points button[data-point]')].map((b) => b.textContent);
      return names.length > 0 && names.every((n) => n.includes(q));
    }, search);
  }
  const point = await page.getAttribute('#points li:first-child button', 'data-point');
  await page.tap('#points li:first-child button');
  await page.tap(`#categories button[data-category="${category}"]`);
  await page.tap(`.card[data-card="${card}"]`);
  await page.setInputFiles('#photo-input', photos.map((buffer, i) => ({ name: `IMG_${i}.jpg`, mimeType: 'image/jpeg', buffer })));
  // Each photo shows its own box at once, with where it stands, not one box
  // after another as each finishes.
  const boxes = await page.$$eval('#thumbs .thumb', (els) => els.map((e) => [e.dataset.state, e.textContent]));
  assert.equal(boxes.length, photos.length, `a box per picked photo at once: ${JSON.stringify(boxes)}`);
  for (const [i, [state, label]] of boxes.entries()) {
    if (state === 'done') continue;
    const n = photos.length > 1 ? ` ${i + 1}/${photos.length}` : '';
    assert.ok(label === `等待处理${n}` || label === `处理中${n}…`, `photo ${i + 1}: ${state} ${label}`);
  }
  await page.waitForFunction((n) => document.querySelectorAll('#thumbs .thumb[data-sha256]').length === n, photos.length);
  const hashes = await page.$$eval('#thumbs .thumb[data-sha256]', (els) => els.map((e) => e.dataset.sha256));
  if (note) await page.fill('#note', note);
  return { point, hashes };
}

async function save(page) {
  await page.tap('#save');
  await onScreen(page, 'home');
}

test('an inspector enrolls, records three findings offline, restarts offline and syncs them once each', async () => {
  const context = await phoneContext(browser, server);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e));

  // Enroll by typing the code (the server field is prefilled with this origin).
  await page.goto('/app/');
  await onScreen(page, 'enroll');
  assert.equal(await page.inputValue('#enroll-server'), server.url);
  await shot(page, '01-enroll');
  await page.fill('#enroll-code', 'WRONG-CODE-0000');
  await page.tap('#enroll-submit');
  await page.waitForSelector('#enroll-msg.bad');
  assert.match(await page.textContent('#enroll-msg'), /服务器拒绝/, 'a wrong code is refused with the reason');
  await page.fill('#enroll-code', server.demo.codes.get('督查01'));
  await page.tap('#enroll-submit');
  await onScreen(page, 'home');
  assert.equal(await page.textContent('#home-alias'), '督查01');
  await page.waitForSelector('body[data-last-sync="ok"]');

  // The service worker has cached the shell before we go offline.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);

  await context.setOffline(true);
  await page.waitForFunction(() => !navigator.onLine);
  const photos = [];
  for (let i = 0; i < 4; i++) photos.push(await makeJpeg(page, { width: 2400 + i * 80, height: 1800, seed: i + 1 }));

  const recorded = [];
  let f = await recordFinding(page, { category: 'street_vending', card: 'red', photos: [photos[0], photos[1]], note: '早高峰占道摆摊' });
  await shot(page, '03-record');
  await save(page);
  recorded.push(f);
  f = await recordFinding(page, { category: 'parking', card: 'yellow', photos: [photos[2]] });
  await save(page);
  recorded.push(f);
  // Search by name instead of picking from the nearest.
  f = await recordFinding(page, { search: '农贸市场', category: 'sanitation', card: 'green', photos: [photos[3]] });
  await save(page);
  recorded.push(f);

  assert.equal(await unsynced(page), 3, 'three findings wait on the phone');
  await shot(page, '02-home-offline');
  let office = await officeFindings(server, await adminToken(server));
  assert.equal(office.length, 0, 'nothing reached the server while offline');

  // Restart with no network: the service worker serves the app, the findings are still there.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await unsynced(page), 3, 'the three findings survived the restart');
  await page.tap('#open-list');
  await onScreen(page, 'list');
  const states = await page.$$eval('#findings button', (els) => els.map((e) => e.dataset.state));
  // Still on the phone, none sent. With Debian's Chromium 148 the reloaded
  // page reads itself online and tries a sync, which is interrupted: the
  // findings then show that attempt ('uploading'); with earlier builds they
  // stayed 'local'. Either way nothing left the phone, which is what this
  // checks. No 'online' event follows, so the app's own retry syncs them.
  assert.equal(states.length, 3);
  assert.ok(states.every((s) => s === 'local' || s === 'uploading'), `unsynced after the restart: ${states}`);
  await shot(page, '04-list-offline');
  await page.tap('#findings li:first-child button');
  await onScreen(page, 'finding');
  await page.waitForSelector('#finding-detail img[src^="blob:"]');
  await shot(page, '05-finding');
  await page.tap('#back');
  await onScreen(page, 'list');
  await page.tap('#back');
  await onScreen(page, 'home');

  // The network comes back: the app syncs by itself.
  await context.setOffline(false);
  await page.waitForFunction(() => document.querySelector('#home-unsynced').textContent === '0', null, { timeout: 60_000 });
  await page.waitForSelector('body[data-last-sync="ok"]');
  await shot(page, '06-home-synced');
  assert.equal(await page.isVisible('#reenroll'), false, 're-enrolling is offered only to a refused device');
  assert.equal(await page.isVisible('#screen-record'), false, 'one screen at a time');
  await page.tap('#open-list');
  await onScreen(page, 'list');
  assert.deepEqual(await page.$$eval('#findings button', (els) => els.map((e) => e.dataset.state)), ['synced', 'synced', 'synced']);

  // The office has all three, once each, with the photo hashes the page computed.
  office = await officeFindings(server, await adminToken(server));
  assert.equal(office.length, 3, 'three findings on the server');
  assert.equal(new Set(office.map((o) => o.id)).size, 3, 'each once');
  const byHashes = (list) => list.map((x) => x.join(',')).sort();
  assert.deepEqual(
    byHashes(office.map((o) => o.photos.map((p) => p.sha256))),
    byHashes(recorded.map((r) => r.hashes)),
    'photo hashes on the server equal those computed in the browser',
  );
  assert.deepEqual(office.map((o) => o.card).sort(), ['green', 'red', 'yellow']);
  for (const o of office) {
    assert.ok(o.location, 'the position was recorded');
    assert.ok(Math.abs(o.location.lat - 31.2092) < 1e-6 && o.location.accuracy_m === 8, JSON.stringify(o.location));
  }
  const red = office.find((o) => o.card === 'red');
  assert.equal(red.note, '早高峰占道摆摊');
  assert.equal(red.point.id, recorded[0].point);
  const green = office.find((o) => o.card === 'green');
  assert.match(green.point.name, /农贸市场/, 'the point found by name search');

  // A second tab must not open the database.
  const second = await context.newPage();
  await second.goto('/app/');
  await second.waitForSelector('body[data-screen="locked"]');
  assert.match(await second.textContent('#screen-locked'), /应用已在另一个标签页中打开/);
  await shot(second, '07-second-tab');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');

  // When the first tab closes, the waiting one takes the database over.
  await page.close();
  await second.waitForSelector('body[data-ready="true"]');
  assert.equal(await second.textContent('#home-alias'), '督查01');
  await context.close();
});

test('opening an enrollment link enrolls the phone and removes the code from the address', async () => {
  const context = await phoneContext(browser, server);
  const page = await context.newPage();
  await page.goto(`/app/#enroll=${encodeURIComponent(server.demo.codes.get('督查02'))}`);
  await onScreen(page, 'home');
  assert.equal(await page.textContent('#home-alias'), '督查02');
  assert.equal(new URL(page.url()).hash, '', 'the one-time code does not stay in the address bar or history');
  await page.waitForSelector('body[data-last-sync="ok"]');
  assert.match(await page.textContent('#storage-status'), /本机存储/, 'the persistent-storage result is shown');

  // A finding with no position fix is saved as "no fix", never a made-up one.
  await context.clearPermissions();
  await context.setGeolocation(null);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.tap('#new-finding');
  await onScreen(page, 'record');
  await page.waitForSelector('#loc.bad', { timeout: 30_000 });
  assert.match(await page.textContent('#loc'), /无定位/);
  await page.fill('#point-search', '');
  await page.waitForSelector('#points button[data-point]');
  await page.tap('#points li:first-child button');
  await page.tap('#categories button:first-child');
  await page.tap('.card[data-card="yellow"]');
  await page.tap('#save');
  await page.waitForSelector('#record-msg:not(:empty)');
  assert.match(await page.textContent('#record-msg'), /photo/, 'a yellow card without a photo is refused by the core with a reason');
  await page.tap('.card[data-card="green"]');
  await page.tap('#save');
  await onScreen(page, 'home');
  await page.waitForFunction(() => document.querySelector('#home-unsynced').textContent === '0', null, { timeout: 60_000 });
  const office = await officeFindings(server, await adminToken(server));
  const mine = office.filter((o) => o.photos.length === 0);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].location, null, 'no fix is recorded as no fix');
  await context.close();
});
