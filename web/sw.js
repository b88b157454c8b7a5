// Service worker: keeps the app shell and the wasm core in a versioned cache
// so the app starts with no network. It never caches API answers, and no
// data lives here: findings are in the device database (OPFS), so replacing
// this cache on an update cannot lose anything.
const VERSION = '__BUILD_VERSION__';
const SHELL = __SHELL_FILES__;
const CACHE = `anfang-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // `no-cache`: fetch the files of this build, not an older HTTP-cached copy.
      cache.addAll(SHELL.map((f) => new Request(f, { cache: 'no-cache' })))),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('anfang-shell-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  const scope = new URL(self.registration.scope);
  if (!url.pathname.startsWith(scope.pathname)) return; // the API: always the network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // Any navigation inside the app (e.g. /app/?x, with #enroll=…) is the shell.
    const key = req.mode === 'navigate' ? new URL('./', scope).href : req;
    const hit = await cache.match(key, { ignoreSearch: req.mode === 'navigate' });
    if (hit) return hit;
    return fetch(req);
  })());
});
