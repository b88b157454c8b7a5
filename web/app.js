// The inspector's app, main thread: screens, camera, location, and the
// conversation with the worker that owns the database (worker.js). No domain
// rules live here: validation, storage, photo processing and sync are the
// shared Rust core's, in the worker.

const $ = (id) => document.getElementById(id);
const LOCK_NAME = 'anfang-device-db';
const ACCURACY_KEY = 'anfang.accuracyLimitM';
const DEFAULT_ACCURACY_LIMIT_M = 50;

// ---- the worker --------------------------------------------------------

let worker = null;
let nextId = 1;
const pending = new Map();
const workerReady = {};
workerReady.promise = new Promise((resolve, reject) => Object.assign(workerReady, { resolve, reject }));

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (data.event === 'ready') return workerReady.resolve();
    if (data.event === 'fatal') return workerReady.reject(data.data);
    if (data.event === 'sync') return onSyncEvent(data.data);
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    data.ok ? p.resolve(data.value) : p.reject(data.value);
  };
  worker.onerror = (e) => workerReady.reject({ kind: 'internal', message: e.message || '后台进程无法启动' });
}

function call(op, args, transfer) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer || []);
  });
}

// ---- small helpers -----------------------------------------------------

const CARD_ZH = { red: '红牌', yellow: '黄牌', green: '绿牌' };
const ERROR_ZH = {
  invalid: '填写有误',
  photo: '照片无法使用',
  not_enrolled: '本机尚未登记',
  network: '无法连接服务器',
  refused: '服务器拒绝',
  unauthorized: '服务器不再接受本机，请用新登记码重新登记',
  // Same texts as the core's error codes (client-core/src/error_code.rs).
  device_revoked: '此设备已被停用',
  device_expired: '此设备长期未同步，登记已失效，请向办公室索取新登记码',
  storage: '本机存储出错',
  busy: '正在同步，请稍候',
  internal: '内部错误',
};

function explain(e) {
  if (!e) return '未知错误';
  // A coded error carries its Chinese text (the core's ErrorCode::zh, set
  // by the wasm adapter): translate by code, keep the detail after it.
  if (e.zh) return e.message ? `${e.zh}（${e.message}）` : e.zh;
  const head = ERROR_ZH[e.kind] || '出错了';
  return e.message ? `${head}：${e.message}` : head;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c != null) node.append(c);
  return node;
}

function blobUrl(bytes) {
  return bytes ? URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' })) : '';
}

function fmtTime(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getMonth() + 1}月${d.getDate()}日 ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Drawn visits are in office time (Asia/Shanghai), whatever the phone's zone.
const OFFICE_TZ = 'Asia/Shanghai';
const clockFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: OFFICE_TZ, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fmtClock = (iso) => clockFmt.format(new Date(iso));
const slotText = (v) => `${v.slot_label} ${fmtClock(v.starts_at)}–${fmtClock(v.ends_at)}`;

function fmtDistance(m) {
  if (m == null) return '';
  return m < 1000 ? `${Math.round(m)} 米` : `${(m / 1000).toFixed(1)} 公里`;
}

let toastTimer = 0;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 3000);
}

function accuracyLimit() {
  const v = Number(localStorage.getItem(ACCURACY_KEY));
  return v > 0 ? v : DEFAULT_ACCURACY_LIMIT_M;
}

// ---- screens -----------------------------------------------------------

const TITLES = {
  loading: '暗访', locked: '暗访', inapp: '请在浏览器中打开', error: '暗访', enroll: '登记', home: '暗访督查',
  record: '记录问题', list: '我的记录', finding: '记录详情',
};
const BACK = { record: 'home', list: 'home', finding: 'list' };
let current = 'loading';

function show(name) {
  if (current === 'record' && name !== 'record') leaveRecord();
  current = name;
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== `screen-${name}`;
  $('title').textContent = TITLES[name];
  $('back').hidden = !backOf(name);
  document.body.dataset.screen = name;
  window.scrollTo(0, 0);
}

// Enrolling again (a revoked device) can be abandoned; a first enrollment cannot.
const backOf = (name) => (name === 'enroll' ? (status?.enrolled ? 'home' : null) : BACK[name]);

$('back').addEventListener('click', () => {
  const to = backOf(current);
  if (to === 'home') goHome();
  else if (to === 'list') openList();
});

function updateNet() {
  $('net').textContent = navigator.onLine ? '在线' : '离线';
}
addEventListener('online', () => { updateNet(); autoSync(); });
addEventListener('offline', () => { updateNet(); offlineHint(); });
updateNet();

// ---- enroll --------------------------------------------------------------

function enrollCodeFromHash() {
  const m = /(?:^|[#&])enroll=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

function forgetEnrollCode() {
  // The code is single-use and identifies a person to the office: keep it
  // out of the history and out of a home-screen bookmark.
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
}

async function showEnroll(code) {
  show('enroll');
  $('enroll-server').value = location.origin;
  if (code) {
    $('enroll-code').value = code;
    if (navigator.onLine) await submitEnroll();
    else $('enroll-msg').textContent = '当前离线，连接网络后点“登记”。';
  }
}

async function submitEnroll(ev) {
  ev?.preventDefault();
  const msg = $('enroll-msg');
  const btn = $('enroll-submit');
  btn.disabled = true;
  msg.className = 'msg';
  msg.textContent = '正在登记…';
  try {
    const label = `网页应用 ${navigator.userAgentData?.platform || navigator.platform || ''}`.trim();
    const alias = await call('enroll', { server: $('enroll-server').value, code: $('enroll-code').value, label });
    forgetEnrollCode();
    toast(`登记成功：${alias}`);
    await goHome();
    syncNow();
  } catch (e) {
    msg.className = 'msg bad';
    msg.textContent = explain(e);
  } finally {
    btn.disabled = false;
  }
}
$('enroll-form').addEventListener('submit', submitEnroll);

// ---- home & sync -------------------------------------------------------

let status = null;

async function refreshStatus() {
  status = await call('status');
  $('home-alias').textContent = status.alias || '';
  $('home-server').textContent = status.server_url || '';
  $('home-unsynced').textContent = String(status.unsynced);
  offlineHint();
  return status;
}

// Offline, say plainly where the unsynced findings are and what happens next.
function offlineHint() {
  if (navigator.onLine || syncing || !status?.unsynced) return;
  const msg = $('sync-status');
  msg.className = 'msg';
  msg.textContent = `当前离线：${status.unsynced} 条记录已保存在本机，联网后自动同步。`;
}

async function goHome() {
  await refreshStatus();
  if (!status.enrolled) return showEnroll(null);
  show('home');
  await Promise.all([showRejected(), renderVisits()]);
}

async function showRejected() {
  const list = $('home-rejected');
  list.replaceChildren();
  const findings = await call('findings');
  for (const f of findings.filter((f) => f.sync.state === 'rejected')) {
    list.append(el('li', {}, `${fmtTime(f.observed_at)} ${pointName(f.point_id)} 被服务器拒绝：${f.sync.reason}`));
  }
}

let syncing = null;
let photoRows = new Map();

function onSyncEvent(ev) {
  const list = $('sync-photos');
  if (ev.event === 'photos_planned') {
    list.replaceChildren();
    photoRows = new Map();
    if (ev.count) $('sync-status').textContent = `上传 ${ev.count} 张照片（${(ev.bytes / 1048576).toFixed(1)} MB）…`;
  } else if (ev.event === 'photo_progress') {
    let row = photoRows.get(ev.sha256);
    if (!row) {
      const bar = el('progress', { max: ev.total, value: 0 });
      const label = el('span', {}, `照片 ${photoRows.size + 1}`);
      row = { li: el('li', { dataset: { sha256: ev.sha256 } }, label, bar), bar, label };
      photoRows.set(ev.sha256, row);
      list.append(row.li);
    }
    row.bar.max = ev.total;
    row.bar.value = ev.sent;
  } else if (ev.event === 'photo_done') {
    const row = photoRows.get(ev.sha256);
    if (row) { row.bar.value = row.bar.max; row.label.textContent += ' ✓'; }
  } else if (ev.event === 'finding_done') {
    refreshStatus().catch(() => {});
  }
}

function syncNow() {
  if (syncing) return syncing;
  const btn = $('sync-btn');
  const msg = $('sync-status');
  btn.disabled = true;
  msg.className = 'msg';
  msg.textContent = '正在同步…';
  let outcome = 'error';
  syncing = call('sync')
    .then((r) => {
      if (r.interrupted) {
        msg.className = 'msg bad';
        msg.textContent = `同步中断（网络不通），未同步的记录已保存在本机，稍后自动重试。`;
        retryLater();
      } else {
        retryDelay = RETRY_FIRST_MS;
        msg.className = 'msg good';
        const parts = [`已上传 ${r.findings_pushed + r.findings_already_on_server} 条`];
        if (r.photos_uploaded) parts.push(`照片 ${r.photos_uploaded} 张`);
        if (r.findings_rejected) parts.push(`被拒绝 ${r.findings_rejected} 条`);
        msg.textContent = `同步完成：${parts.join('，')}。${new Date().toLocaleTimeString('zh-CN')}`;
      }
      outcome = r.interrupted ? 'interrupted' : 'ok';
      $('reenroll').hidden = true;
      return r;
    })
    .catch((e) => {
      msg.className = 'msg bad';
      msg.textContent = explain(e);
      outcome = 'error';
      // A revoked device keeps its unsynced findings; a new code lets them go.
      $('reenroll').hidden = !['unauthorized', 'device_revoked', 'device_expired'].includes(e.kind);
    })
    .finally(async () => {
      syncing = null;
      btn.disabled = false;
      if (status?.enrolled) {
        await refreshStatus().catch(() => {});
        await loadNames().catch(() => {});
        if (current === 'home') await Promise.all([showRejected(), renderVisits()]).catch(() => {});
        if (current === 'list') await openList().catch(() => {});
      }
      // Said once the screen shows what the sync brought (today's visits,
      // a rejected finding), not before: what reads it sees the result.
      document.body.dataset.lastSync = outcome;
    });
  return syncing;
}

// An interrupted sync is tried again by itself, backing off from 5 s to
// 2 min: a phone often reports itself online while the network is dead (a
// weak signal, a captive portal), so no 'online' event would ever come.
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 120_000;
let retryDelay = RETRY_FIRST_MS;
let retryTimer = null;
function retryLater() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => { retryTimer = null; autoSync(); }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

function autoSync() {
  if (status?.enrolled && navigator.onLine) syncNow();
}

$('sync-btn').addEventListener('click', syncNow);
$('reenroll').addEventListener('click', () => {
  $('reenroll').hidden = true;
  showEnroll(null);
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') autoSync();
});

// ---- today's visits (the random draw) -------------------------------------

// What the home list says about a visit: recorded on, under way, to come, or
// its slot passed without a finding (the office's coverage report counts it
// as missed).
function visitStatus(v, now = Date.now()) {
  if (v.findings > 0) return { key: 'done', text: `已记录 ${v.findings} 条` };
  if (now > Date.parse(v.ends_at)) return { key: 'past', text: '时段已过' };
  if (now >= Date.parse(v.starts_at)) return { key: 'now', text: '进行中' };
  return { key: 'todo', text: '未开始' };
}

let visitsById = new Map();

// Slots start and end while the app stays open on the home screen.
setInterval(() => {
  if (current === 'home' && visitsById.size && document.visibilityState === 'visible') renderVisits().catch(() => {});
}, 60_000);

async function renderVisits() {
  const visits = await call('visits');
  visitsById = new Map(visits.map((v) => [v.id, v]));
  const list = $('visits');
  list.replaceChildren();
  // Offices that do not draw never see an empty section.
  $('home-visits').hidden = visits.length === 0;
  for (const v of visits) {
    const st = visitStatus(v);
    const b = el('button', { type: 'button', dataset: { assignment: v.id, point: v.point_id, status: st.key, recheck: v.recheck ? v.recheck.case_ref : false } },
      el('span', { class: 'when' }, v.slot_label, el('span', { class: 'sub' }, `${fmtClock(v.starts_at)}–${fmtClock(v.ends_at)}`)),
      el('span', { class: 'where' }, v.recheck ? el('span', { class: 'tag' }, '复查任务') : null, v.point_name || v.point_id,
        el('span', { class: 'sub' }, v.recheck ? `整改单 ${v.recheck.case_ref} · ${v.unit_name || ''}` : (v.unit_name || ''))),
      el('span', { class: `state ${st.key}` }, st.text));
    b.addEventListener('click', () => openRecord(v));
    list.append(el('li', {}, b));
  }
}

// ---- reference data (names for lists) ----------------------------------

let pointNames = new Map();
let categoryNames = new Map();

async function loadNames() {
  const [points, categories] = await Promise.all([call('points', {}), call('categories')]);
  pointNames = new Map(points.map((p) => [p.id, p.name]));
  categoryNames = new Map(categories.map((c) => [c.code, c.name]));
  return { points, categories };
}
const pointName = (id) => pointNames.get(id) || id;
const categoryName = (code) => categoryNames.get(code) || code;

// ---- record ------------------------------------------------------------

const draft = {
  visit: null, point: null, category: null, card: null, verdict: null, photos: [], fix: null, fixError: null,
  watch: null, processing: 0, pointsOrderedBy: null,
};

function positionText() {
  if (draft.fix) {
    const acc = Math.round(draft.fix.accuracy_m);
    const limit = accuracyLimit();
    return { text: `已定位，精度 ±${acc} 米` + (acc > limit ? `（超过 ${limit} 米，请核对点位）` : ''), cls: acc > limit ? 'loc warn' : 'loc' };
  }
  if (draft.fixError) return { text: `无定位：${draft.fixError}。将如实记录为“无定位”。`, cls: 'loc bad' };
  return { text: '定位中…', cls: 'loc' };
}

function renderLocation() {
  const { text, cls } = positionText();
  const loc = $('loc');
  loc.textContent = text;
  loc.className = cls;
  loc.dataset.accuracy = draft.fix ? String(draft.fix.accuracy_m) : '';
}

function startLocation() {
  if (!('geolocation' in navigator)) {
    draft.fixError = '此浏览器不支持定位';
    return renderLocation();
  }
  // Watching keeps the latest fix: taken when the finding is started and
  // refreshed until it is saved. The fix's own time travels with it.
  draft.watch = navigator.geolocation.watchPosition(
    (pos) => {
      const first = !draft.fix;
      draft.fix = {
        lat: pos.coords.latitude,
        lon: pos.coords.longitude,
        accuracy_m: pos.coords.accuracy,
        captured_at_ms: pos.timestamp || Date.now(),
      };
      draft.fixError = null;
      renderLocation();
      if (first && (!draft.point || draft.visit)) renderPoints();
    },
    (err) => {
      // Keep an earlier real fix if there is one; never invent one.
      if (!draft.fix) {
        draft.fixError = err.code === 1 ? '未允许定位' : err.code === 3 ? '定位超时' : '无法获取位置';
        renderLocation();
      }
    },
    { enableHighAccuracy: true, maximumAge: 0, timeout: 20000 },
  );
  renderLocation();
}

function leaveRecord() {
  if (draft.watch != null) navigator.geolocation.clearWatch(draft.watch);
  draft.watch = null;
}

async function renderPoints() {
  const query = $('point-search').value;
  const near = draft.fix ? { lat: draft.fix.lat, lon: draft.fix.lon } : {};
  const points = await call('points', { ...near, query: draft.visit ? '' : query });
  const list = $('points');
  list.replaceChildren();
  // On a drawn visit the point is the visit's (shown from the visit even if
  // the office has since deactivated it: the visit still stands); otherwise,
  // without a search, the nearest few are what the inspector needs.
  const v = draft.visit;
  const shown = v
    ? points.filter((p) => p.id === v.point_id)
    : query.trim() ? points : points.slice(0, 8);
  if (v && !shown.length) shown.push({ id: v.point_id, name: v.point_name || v.point_id, unit_name: v.unit_name, distance_m: null });
  for (const p of shown) {
    const b = el('button', { type: 'button', class: p.id === draft.point ? 'on' : '', dataset: { point: p.id } },
      el('span', {}, p.name, el('span', { class: 'sub' }, p.unit_name || '')),
      el('span', { class: 'dist' }, fmtDistance(p.distance_m)));
    b.addEventListener('click', () => {
      draft.point = p.id;
      for (const x of list.querySelectorAll('button')) x.classList.toggle('on', x === b);
    });
    list.append(el('li', {}, b));
  }
  if (!shown.length) list.append(el('li', { class: 'muted' }, points.length ? '' : '没有匹配的点位'));
}

async function renderCategories() {
  const categories = await call('categories');
  const grid = $('categories');
  grid.replaceChildren();
  for (const c of categories) {
    const b = el('button', { type: 'button', dataset: { category: c.code }, title: c.description || '' }, c.name);
    b.addEventListener('click', () => {
      draft.category = c.code;
      for (const x of grid.querySelectorAll('button')) x.classList.toggle('on', x === b);
    });
    grid.append(b);
  }
}

for (const b of document.querySelectorAll('.card')) {
  b.addEventListener('click', () => {
    draft.card = b.dataset.card;
    for (const x of document.querySelectorAll('.card')) x.classList.toggle('on', x === b);
  });
}

// A re-check visit (复查任务) records a verdict on its case, not a new
// problem: the category and card are the case's (green when passed), the
// before-photos are shown from the copies the last sync kept, and it cannot
// be turned into an ordinary finding.
for (const b of document.querySelectorAll('.verdict')) {
  b.addEventListener('click', () => {
    draft.verdict = b.dataset.verdict;
    for (const x of document.querySelectorAll('.verdict')) x.classList.toggle('on', x === b);
  });
}

async function renderRecheck() {
  const t = draft.visit?.recheck;
  $('record-recheck').hidden = !t;
  $('record-classify').hidden = Boolean(t);
  $('record-visit-clear').hidden = Boolean(t);
  for (const x of document.querySelectorAll('.verdict')) x.classList.remove('on');
  const before = $('recheck-before');
  before.replaceChildren();
  if (!t) return;
  $('recheck-ref').textContent = t.case_ref;
  $('recheck-what').textContent = `${CARD_ZH[t.card]} · ${categoryName(t.category)}`;
  for (const sha of t.photos) {
    const jpeg = await call('recheckPhoto', { sha256: sha });
    before.append(jpeg
      ? el('div', { class: 'thumb', dataset: { sha256: sha } }, el('img', { src: blobUrl(jpeg), alt: '整改前照片' }))
      : el('div', { class: 'thumb muted small', dataset: { sha256: sha } }, '未下载，请联网同步'));
  }
}

// A drawn visit fixes the point (the core refuses another); the banner says
// whether the inspector is inside the visit's slot.
function renderVisitBanner() {
  const v = draft.visit;
  $('record-visit').hidden = !v;
  $('point-search').hidden = Boolean(v);
  if (!v) return;
  draft.point = v.point_id;
  $('record-visit-slot').textContent = `${slotText(v)} · ${v.point_name || v.point_id}`;
  const now = Date.now();
  const inSlot = now >= Date.parse(v.starts_at) && now <= Date.parse(v.ends_at);
  const w = $('record-visit-window');
  w.className = inSlot ? 'msg small good' : 'msg small bad';
  w.textContent = inSlot
    ? '当前在任务时段内。'
    : `当前不在任务时段（${fmtClock(v.starts_at)}–${fmtClock(v.ends_at)}）内；记录仍关联此任务，记录时间如实保存，办公室可见。`;
}

$('record-visit-clear').addEventListener('click', () => {
  draft.visit = null;
  draft.point = null;
  renderVisitBanner();
  renderPoints();
});

async function openRecord(visit = null) {
  Object.assign(draft, { visit, point: null, category: null, card: null, verdict: null, photos: [], fix: null, fixError: null });
  await call('discardDraft');
  $('point-search').value = '';
  $('note').value = '';
  $('record-msg').textContent = '';
  $('thumbs').replaceChildren();
  for (const x of document.querySelectorAll('.card')) x.classList.remove('on');
  renderVisitBanner();
  show('record');
  startLocation();
  await Promise.all([renderPoints(), renderCategories(), renderRecheck()]);
}

let searchTimer = 0;
$('point-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(renderPoints, 150);
});

$('photo-input').addEventListener('change', async (ev) => {
  const files = [...ev.target.files];
  ev.target.value = '';
  // Every picked photo gets its box at once, numbered, saying where it
  // stands. They are processed one after another: the one worker owns the
  // pipeline and the draft, and a second 12-megapixel decode at the same
  // time would double the memory a low-end phone must find.
  const of = files.length;
  const boxes = files.map((_, i) => {
    const box = el('div', { class: 'thumb', 'data-state': 'queued' }, of > 1 ? `等待处理 ${i + 1}/${of}` : '等待处理');
    $('thumbs').append(box);
    return box;
  });
  draft.processing += of;
  for (const [i, file] of files.entries()) {
    const box = boxes[i];
    box.dataset.state = 'processing';
    box.textContent = of > 1 ? `处理中 ${i + 1}/${of}…` : '处理中…';
    try {
      const bytes = await file.arrayBuffer();
      const info = await call('processPhoto', { bytes }, [bytes]);
      if (draft.photos.some((p) => p.sha256 === info.sha256)) {
        box.remove();
        toast('这张照片已经添加过了');
        continue;
      }
      draft.photos.push(info);
      const img = el('img', { src: blobUrl(info.thumbnail), alt: '照片' });
      const remove = el('button', { type: 'button', 'aria-label': '删除照片' }, '×');
      remove.addEventListener('click', () => {
        draft.photos = draft.photos.filter((p) => p.sha256 !== info.sha256);
        call('discardPhoto', { sha256: info.sha256 });
        box.remove();
      });
      box.replaceChildren(img, remove);
      box.dataset.state = 'done';
      box.dataset.sha256 = info.sha256;
      box.dataset.ms = String(Math.round(info.ms));
    } catch (e) {
      box.remove();
      toast(explain(e));
    } finally {
      draft.processing--;
    }
  }
});

$('save').addEventListener('click', async () => {
  const msg = $('record-msg');
  msg.className = 'msg bad';
  if (draft.processing) return (msg.textContent = '照片还在处理中，请稍候再保存。');
  if (!draft.point) return (msg.textContent = '请选择点位。');
  const recheck = draft.visit?.recheck;
  if (recheck) {
    if (!draft.verdict) return (msg.textContent = '请选择复查通过或复查未通过。');
    if (!draft.photos.length) return (msg.textContent = '复查至少需要一张现场照片。');
  } else {
    if (!draft.category) return (msg.textContent = '请选择问题类别。');
    if (!draft.card) return (msg.textContent = '请选择红牌、黄牌或绿牌。');
  }
  const finding = {
    point_id: draft.point,
    category: recheck ? recheck.category : draft.category,
    card: recheck ? (draft.verdict === 'passed' ? 'green' : recheck.card) : draft.card,
    recheck_passed: recheck ? draft.verdict === 'passed' : null,
    note: $('note').value,
    // The latest real fix, or none: "no fix" is recorded as such.
    location: draft.fix,
    photos: draft.photos.map((p) => p.sha256),
    assignment_id: draft.visit?.id ?? null,
  };
  const btn = $('save');
  btn.disabled = true;
  try {
    const saved = await call('record', { finding });
    leaveRecord();
    const s = await refreshStatus();
    const kind = saved.recheck ? (saved.recheck.passed ? '复查通过' : '复查未通过') : saved.assignment_id ? '抽签任务记录' : '';
    toast(`已保存${kind}${saved.location ? '' : '（无定位）'}，未同步 ${s.unsynced} 条`);
    await goHome();
    autoSync();
  } catch (e) {
    msg.textContent = explain(e);
  } finally {
    btn.disabled = false;
  }
});

$('new-finding').addEventListener('click', () => openRecord());

// ---- list & detail -----------------------------------------------------

const STATE_ZH = { local: '未同步', uploading: '上传中', synced: '已同步', rejected: '被拒绝' };

async function openList() {
  const findings = await call('findings');
  const list = $('findings');
  list.replaceChildren();
  $('list-empty').hidden = findings.length > 0;
  // Thumbnails are local reads: fetch them before showing, so rows don't jump.
  const thumbs = await Promise.all(findings.map((f) => (f.photos[0] ? call('thumbnail', { sha256: f.photos[0] }) : null)));
  for (const [i, f] of findings.entries()) {
    const img = el('img', { alt: '', src: thumbs[i] ? blobUrl(thumbs[i]) : false });
    const b = el('button', { type: 'button', dataset: { id: f.id, state: f.sync.state } },
      img,
      el('span', { class: 'what' },
        el('b', {}, el('span', { class: `dot ${f.card}` }), pointName(f.point_id), f.assignment_id ? el('span', { class: 'tag' }, '抽签') : null),
        el('span', { class: 'muted small' }, `${categoryName(f.category)} · ${fmtTime(f.observed_at)}`)),
      el('span', { class: `state ${f.sync.state}` }, STATE_ZH[f.sync.state]));
    b.addEventListener('click', () => openFinding(f));
    list.append(el('li', {}, b));
  }
  show('list');
}

async function openFinding(f) {
  show('finding');
  const loc = f.location
    ? `${f.location.lat.toFixed(6)}, ${f.location.lon.toFixed(6)}（±${Math.round(f.location.accuracy_m)} 米）`
    : '无定位';
  let state = STATE_ZH[f.sync.state];
  if (f.sync.state === 'rejected') state += `：${f.sync.reason}`;
  if (f.sync.state === 'uploading' && f.sync.last_error) state += `（已尝试 ${f.sync.attempts} 次：${f.sync.last_error}）`;
  const photos = el('div', { class: 'detail-photos' });
  const rows = [
    ['点位', pointName(f.point_id)], ['类别', categoryName(f.category)], ['亮牌', CARD_ZH[f.card]],
    ['时间', fmtTime(f.observed_at)], ['位置', loc], ['备注', f.note || '—'], ['状态', state],
    ['编号', f.id],
  ];
  if (f.assignment_id) {
    const v = visitsById.get(f.assignment_id);
    rows.splice(4, 0, ['抽签任务', v ? `${v.date} ${slotText(v)}` : f.assignment_id]);
  }
  if (f.recheck) rows.splice(5, 0, ['复查结果', f.recheck.passed ? '复查通过' : '复查未通过']);
  $('finding-detail').replaceChildren(
    el('dl', { class: 'kv' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])), photos);
  for (const sha of f.photos) {
    const img = el('img', { alt: '照片', dataset: { sha256: sha } });
    photos.append(img);
    call('photo', { sha256: sha }).then((b) => (img.src = blobUrl(b)));
  }
}

$('open-list').addEventListener('click', openList);

// ---- settings & storage ------------------------------------------------

$('accuracy-limit').value = String(accuracyLimit());
$('accuracy-limit').addEventListener('change', (ev) => {
  const v = Number(ev.target.value);
  if (v > 0) localStorage.setItem(ACCURACY_KEY, String(v));
});

async function askPersistence() {
  const out = $('storage-status');
  if (!navigator.storage?.persist) {
    out.textContent = '此浏览器不支持持久存储；请尽快同步，并把应用添加到主屏幕。';
    return;
  }
  // Without it the browser may evict the database under storage pressure
  // (Safari: after 7 days unused). Installed apps usually get it.
  const granted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  document.body.dataset.persisted = String(granted);
  out.textContent = granted
    ? '本机存储：已设为持久，浏览器不会自动清除未同步的记录。'
    : '本机存储：未获持久保证，浏览器在空间不足时可能清除数据。请及时同步，并将应用添加到主屏幕。';
  $('home-storage').hidden = granted;
}

// ---- service worker ----------------------------------------------------

let updateRequested = false;

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const reg = await navigator.serviceWorker.register('sw.js', { scope: './' });
  const offerUpdate = (w) => {
    $('update').hidden = false;
    // Updating only reloads the shell: findings live in the device database,
    // which no update touches.
    $('update-btn').onclick = () => {
      updateRequested = true;
      w.postMessage('skip-waiting');
    };
  };
  if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const w = reg.installing;
    w?.addEventListener('statechange', () => {
      if (w.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(w);
    });
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // Only when the inspector asked: the first install also changes the
    // controller, and a reload then would be a surprise.
    if (updateRequested) location.reload();
  });
}

// ---- apps' own browsers --------------------------------------------------

// In China the enrollment link is usually opened from WeChat, whose built-in
// browser (like those of QQ, DingTalk, Alipay, Weibo, Douyin, Feishu) lacks
// or limits service workers, OPFS and persistent storage: the app would seem
// to work and then lose findings. Those browsers name themselves in the user
// agent; a real browser does not carry these tokens. QQ Browser (MQQBrowser)
// and UC are real browsers and are not in the list.
const IN_APP_BROWSERS = [
  [/\bwxwork\//i, '企业微信'],
  [/\bMicroMessenger\//i, '微信'],
  [/\bDingTalk\//i, '钉钉'],
  [/\b(?:Lark|Feishu)\//i, '飞书'],
  [/\bAlipayClient\//i, '支付宝'],
  [/(?:^|\s)QQ\/\d/, 'QQ'],
  [/\bWeibo\b|__weibo__/i, '微博'],
  [/\baweme|\bBytedanceWebview/i, '抖音'],
  [/\bNewsArticle\//i, '今日头条'],
  [/\bbaiduboxapp\//i, '百度'],
];

function inAppBrowser(ua) {
  for (const [pattern, name] of IN_APP_BROWSERS) if (pattern.test(ua)) return name;
  return null;
}

function showInApp(name) {
  show('inapp');
  $('inapp-name').textContent = name;
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
  $('inapp-step').innerHTML = ios ? '选择“<b>在 Safari 中打开</b>”' : '选择“<b>在浏览器中打开</b>”';
  $('inapp-copy').onclick = async () => {
    const msg = $('inapp-msg');
    try {
      await navigator.clipboard.writeText(location.href);
      msg.textContent = '已复制链接，请粘贴到浏览器中打开。';
    } catch {
      // Some in-app browsers refuse the clipboard: show the link to copy by hand.
      msg.textContent = location.href;
    }
  };
  document.body.dataset.ready = 'inapp';
}

// ---- start -------------------------------------------------------------

async function start() {
  // Before the service worker, the database or the enrollment code is
  // touched: the link (with its code) must still work in the real browser.
  const inApp = inAppBrowser(navigator.userAgent);
  if (inApp) return showInApp(inApp);
  registerServiceWorker().catch((e) => console.warn('service worker', e));
  startWorker();
  try {
    await workerReady.promise;
  } catch (e) {
    $('error-text').textContent = explain(e);
    return show('error');
  }
  askPersistence().catch(() => {});
  await refreshStatus();
  const code = enrollCodeFromHash();
  if (!status.enrolled) {
    ready('enroll');
    return showEnroll(code);
  }
  if (code) {
    forgetEnrollCode();
    toast(`本机已登记为 ${status.alias}，忽略新的登记码`);
  }
  await loadNames().catch(() => {});
  await goHome();
  ready('true');
  autoSync();
}

// Marks the moment the inspector can act: tests wait on the attribute, the
// benchmark reads the performance mark.
function ready(state) {
  document.body.dataset.ready = state;
  performance.mark('anfang-ready');
}

// One tab owns the database: the OPFS pool allows one connection, and two
// writers would corrupt it. A second tab waits and says why; when the first
// tab closes it takes over.
if (navigator.locks) {
  navigator.locks.request(LOCK_NAME, { ifAvailable: true }, async (lock) => {
    if (!lock) {
      show('locked');
      document.body.dataset.ready = 'locked';
      navigator.locks.request(LOCK_NAME, () => location.reload());
      return;
    }
    await start();
    await new Promise(() => {}); // hold the lock for the life of the tab
  });
} else {
  start();
}
