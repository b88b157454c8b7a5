// Today's drawn visits in the inspector web app, in a real browser against
// the real server: the office draws today's visits the day before; on the
// day the inspector's phone receives them with a sync, shows them offline,
// records a finding on one (the point fixed by the visit), turns another
// into an ordinary finding elsewhere, and the office receives exactly one
// finding linked to its visit.
//
// The draw is made by a server whose clock is pinned to the eve with
// ANFANG_TEST_NOW (tests only): a draw can only be made before its period
// starts. The day itself runs on the real clock, like the phone's: the one
// slot spans the whole day, so its visit is past its lead time and not
// ended whatever the hour the test runs at, and a finding the phone records
// now is not "in the future" for the server (the whole server keeps one
// clock, pushes included).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminToken, launch, makeJpeg, officeFindings, onScreen, phoneContext, shot, startServer } from './harness.mjs';

let server;
let browser;
let draw;
let today;

// The phone's "today" is its real clock's: a run must not straddle midnight
// in Shanghai, so one that would start in its last three minutes waits.
async function officeToday() {
  const [h, m, sec] = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .format(new Date()).split(':').map(Number);
  const left = 86_400 - (h * 3600 + m * 60 + sec);
  if (left < 180) await new Promise((r) => setTimeout(r, (left + 5) * 1000));
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
}

function dayBefore(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

before(async () => {
  today = await officeToday();
  const dataDir = mkdtempSync(join(tmpdir(), 'anfang-browser-visits-'));
  const eve = await startServer([], { dataDir, env: { ANFANG_TEST_NOW: `${dayBefore(today)}T12:00:00+08:00` } });
  try {
    const res = await fetch(`${eve.url}/api/v1/draws`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await adminToken(eve)}`, 'content-type': 'application/json' },
      // One slot spanning the day: a finding linked to a visit counts only
      // when observed inside its slot, and this test records at whatever
      // time it runs.
      body: JSON.stringify({
        from: today, to: today, visits: 2, inspectors: ['督查01'], max_visits_per_inspector_per_day: 2,
        slots: [{ name: 'all_day', label: '全天', start: '00:00', end: '23:59', days: 'every' }],
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    draw = await res.json();
    assert.equal(draw.visits, 2);
  } finally {
    await eve.stop({ keepData: true });
  }
  server = await startServer([], { dataDir });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


const visitRows = (page) =>
  page.$$eval('#visits button[data-assignment]', (bs) =>
    bs.map((b) => ({ id: b.dataset.assignment, point: b.dataset.point, status: b.dataset.status, text: b.textContent })));

async function addPhotoAndSave(page, seed) {
  await page.tap('#categories button:first-child');
  await page.tap('.card[data-card="yellow"]');
  const jpeg = await makeJpeg(page, { width: 1600, height: 1200, seed });
  await page.setInputFiles('#photo-input', [{ name: `IMG_${seed}.jpg`, mimeType: 'image/jpeg', buffer: jpeg }]);
  await page.waitForSelector('#thumbs .thumb[data-sha256]');
  await page.tap('#save');
  await onScreen(page, 'home');
}

test("an inspector sees today's drawn visits, records one offline linked to it, and the office receives the link once", async () => {
  const context = await phoneContext(browser, server);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e));

  await page.goto(`/app/#enroll=${server.demo.codes.get('督查01')}`);
  await onScreen(page, 'home');
  await page.waitForSelector('body[data-last-sync="ok"]');

  // The enrolment sync brought both visits, each named by its point.
  await page.waitForSelector('#home-visits:not([hidden])');
  const visits = await visitRows(page);
  assert.equal(visits.length, 2, JSON.stringify(visits));
  assert.equal(new Set(visits.map((v) => v.id)).size, 2);
  assert.ok(visits.every((v) => v.status !== 'done'), 'nothing is recorded yet');
  await shot(page, 'visits-01-home');

  // Offline, restarted from the service worker: the visits are on the device.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await context.setOffline(true);
  await page.waitForFunction(() => !navigator.onLine);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.deepEqual((await visitRows(page)).map((v) => v.id), visits.map((v) => v.id));

  // A finding on the first visit: its point is fixed, the search is gone,
  // and the banner names the slot.
  const [first, second] = visits;
  await page.tap(`#visits button[data-assignment="${first.id}"]`);
  await onScreen(page, 'record');
  assert.equal(await page.isVisible('#record-visit'), true);
  assert.equal(await page.isVisible('#point-search'), false);
  assert.match(await page.textContent('#record-visit-slot'), /\d\d:\d\d–\d\d:\d\d/);
  await page.waitForSelector('#points button[data-point]');
  assert.deepEqual(await page.$$eval('#points button[data-point]', (bs) => bs.map((b) => [b.dataset.point, b.classList.contains('on')])), [[first.point, true]]);
  await shot(page, 'visits-02-record');
  await addPhotoAndSave(page, 1);
  await page.waitForSelector(`#visits button[data-assignment="${first.id}"][data-status="done"]`);
  assert.match(await page.textContent(`#visits button[data-assignment="${first.id}"]`), /已记录 1 条/);

  // The second visit's point is not where the problem is: the inspector
  // turns it into an ordinary finding at another point.
  await page.tap(`#visits button[data-assignment="${second.id}"]`);
  await onScreen(page, 'record');
  await page.tap('#record-visit-clear');
  assert.equal(await page.isVisible('#record-visit'), false);
  assert.equal(await page.isVisible('#point-search'), true);
  // The list is redrawn from the core (a worker call): wait for the nearest
  // points, not the visit's one button still on screen.
  const avoid = [first.point, second.point];
  await page.waitForFunction((avoid) => [...document.querySelectorAll('#points button[data-point]')].some((b) => !avoid.includes(b.dataset.point)), avoid);
  const elsewhere = await page.$$eval('#points button[data-point]', (bs, avoid) => bs.map((b) => b.dataset.point).find((p) => !avoid.includes(p)), avoid);
  assert.ok(elsewhere, 'a point other than the visits');
  await page.tap(`#points button[data-point="${elsewhere}"]`);
  await addPhotoAndSave(page, 2);
  const after = await visitRows(page);
  assert.deepEqual(after.map((v) => v.status === 'done'), [true, false], 'the ordinary finding did not complete the second visit');
  await shot(page, 'visits-03-home-offline');

  // The list marks the drawn-visit finding.
  await page.tap('#open-list');
  await onScreen(page, 'list');
  assert.equal(await page.$$eval('#findings .tag', (ts) => ts.length), 1);
  await page.tap('#back');
  await onScreen(page, 'home');

  // Online again: both findings reach the office, and only the first is linked.
  await context.setOffline(false);
  await page.waitForFunction(() => document.querySelector('#home-unsynced').textContent === '0', null, { timeout: 60_000 });
  const office = await officeFindings(server, await adminToken(server));
  assert.equal(office.length, 2, JSON.stringify(office.map((f) => f.id)));
  const linked = office.filter((f) => f.assignment_id);
  assert.deepEqual(linked.map((f) => [f.assignment_id, f.point.id]), [[first.id, first.point]]);
  assert.equal(office.find((f) => !f.assignment_id).point.id, elsewhere);

  assert.deepEqual(pageErrors, []);
  await context.close();
});
