// The one dedicated worker that owns the device database. It loads the
// wasm core (anfang-core through the anfang-web adapter), opens the store on
// the OPFS "sahpool" VFS, and answers the page's requests one at a time:
// SQLite has one connection, and the queue makes the order of writes the
// order the inspector acted in.
import init, { Device } from './pkg/anfang_web.js';

let device = null;
let queue = Promise.resolve();

function reply(id, ok, value) {
  postMessage({ id, ok, value });
}

function asError(e) {
  if (e && typeof e === 'object' && 'kind' in e) return e;
  return { kind: 'internal', message: String(e && e.message || e) };
}

const ops = {
  status: () => device.status(),
  enroll: ({ server, code, label }) => device.enroll(server, code, label),
  sync: () => device.sync((event) => postMessage({ event: 'sync', data: event })),
  points: ({ lat, lon, query }) => device.points(lat ?? undefined, lon ?? undefined, query || undefined),
  categories: () => device.categories(),
  processPhoto: ({ bytes }) => {
    const t0 = performance.now();
    const info = device.process_photo(new Uint8Array(bytes));
    info.ms = performance.now() - t0;
    info.input_bytes = bytes.byteLength;
    const thumb = device.draft_thumbnail(info.sha256);
    info.thumbnail = thumb;
    return info;
  },
  discardPhoto: ({ sha256 }) => device.discard_photo(sha256),
  discardDraft: () => device.discard_draft(),
  record: ({ finding }) => device.record_finding(finding),
  visits: () => device.todays_visits(),
  findings: () => device.findings(),
  thumbnail: ({ sha256 }) => device.thumbnail(sha256),
  photo: ({ sha256 }) => device.photo(sha256),
  photoUploaded: ({ sha256 }) => device.photo_uploaded(sha256),
  recheckPhoto: ({ sha256 }) => device.recheck_photo(sha256),
};

const opened = (async () => {
  await init();
  device = await Device.open();
})();

opened.then(
  () => postMessage({ event: 'ready' }),
  (e) => postMessage({ event: 'fatal', data: asError(e) }),
);

// Photo processing touches only the draft, not the database, so it need not
// wait behind a sync pass that is stuck on a slow network.
const unqueued = new Set(['processPhoto', 'discardPhoto', 'discardDraft']);

onmessage = ({ data: { id, op, args } }) => {
  const run = () => opened.then(() => ops[op](args || {}));
  const done = (p) => p.then((value) => reply(id, true, value), (e) => reply(id, false, asError(e)));
  if (unqueued.has(op)) {
    done(run());
  } else {
    queue = done(queue.then(run));
  }
};
