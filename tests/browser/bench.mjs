// Benchmark of the inspector web app (figures printed, nothing asserted):
// 1. compressed size of the first load, as the browser received it;
// 2. navigation to ready in Chromium with 4x CPU throttling (CDP
//    Emulation.setCPUThrottlingRate), first visit and an installed start;
// 3. one 12-megapixel photo through the shared pipeline in the worker
//    (wasm) and natively (client-core/examples/photo_time.rs), same file.
//
//   node tests/browser/bench.mjs            (after scripts/build-web and
//                                            cargo build -p anfang-server)
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ROOT, launch, makeJpeg, phoneContext, startServer } from './harness.mjs';

// Runs of each measurement (BENCH_RUNS to change: more runs steady the medians on a noisy machine).
const RUNS = Number(process.env.BENCH_RUNS || 5);
const PHOTO = '/tmp/anfang-bench-12mp-orient6.jpg';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const server = await startServer();
const browser = await launch();
console.log(`chromium ${browser.version()}`);

try {
  // 1 + 2: first visits, each in a fresh profile (no cache, no service worker).
  const firstBytes = [];
  const swBytes = [];
  const firstReady = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await phoneContext(browser, server);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    // Everything the network carried for a first visit: the page, its worker
    // and the service worker (which fetches the shell while the page loads,
    // so the two share the work; a revalidated copy costs only headers).
    const sizes = [];
    context.on('requestfinished', (req) => sizes.push(req.sizes().then((s) => ({ sw: !!req.serviceWorker(), n: s.responseBodySize + s.responseHeadersSize, url: req.url() }))));
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    await page.goto('/app/');
    await page.waitForSelector('body[data-ready]');
    firstReady.push(await page.evaluate(() => performance.getEntriesByName('anfang-ready')[0].startTime));
    // Let the service worker's own fetches of the shell settle before counting.
    await page.evaluate(() => navigator.serviceWorker.ready);
    const done = await Promise.all(sizes);
    firstBytes.push(done.filter((s) => !s.sw).reduce((a, s) => a + s.n, 0));
    swBytes.push(done.filter((s) => s.sw).reduce((a, s) => a + s.n, 0));
    if (i === 0) for (const s of done) console.log(`  ${s.sw ? 'sw  ' : 'page'} ${String(s.n).padStart(8)}  ${s.url.replace(server.url, '')}`);
    await context.close();
  }
  const total = firstBytes.map((b, i) => b + swBytes[i]);
  console.log(`first visit, bytes over the network (page + worker + service worker, bodies as sent compressed, plus headers): median ${median(total)} (${(median(total) / 1e6).toFixed(2)} MB)`);
  console.log(`first visit, navigation to ready (enroll screen), 4x CPU throttling: median ${median(firstReady).toFixed(0)} ms of ${RUNS} [${firstReady.map((x) => x.toFixed(0)).join(', ')}]`);

  // An enrolled phone starting again (service worker, OPFS database).
  const context = await phoneContext(browser, server);
  const page = await context.newPage();
  await page.goto(`/app/#enroll=${encodeURIComponent(server.demo.codes.get('督查01'))}`);
  await page.waitForSelector('body[data-last-sync="ok"]');
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const warmReady = [];
  for (let i = 0; i < RUNS; i++) {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    warmReady.push(await page.evaluate(() => performance.getEntriesByName('anfang-ready')[0].startTime));
  }
  console.log(`enrolled start from the service worker, navigation to ready (home), 4x CPU throttling: median ${median(warmReady).toFixed(0)} ms [${warmReady.map((x) => x.toFixed(0)).join(', ')}]`);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });

  // 3: the same 12-megapixel photo, in the worker and natively.
  if (!existsSync(PHOTO)) {
    console.log(`(${PHOTO} missing: making a 4032x3024 JPEG with the browser's encoder; photo_bench makes a camera-like one from mate-backgrounds)`);
    writeFileSync(PHOTO, await makeJpeg(page, { width: 4032, height: 3024, seed: 12 }));
  }
  const photo = readFileSync(PHOTO);
  await page.tap('#new-finding');
  await page.waitForSelector('body[data-screen="record"]');
  const wasmMs = [];
  let wasmSha = '';
  for (let i = 0; i < RUNS + 1; i++) {
    await page.setInputFiles('#photo-input', { name: 'IMG_12MP.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.waitForSelector('#thumbs .thumb[data-sha256]');
    const t = await page.$eval('#thumbs .thumb[data-sha256]', (e) => ({ ms: Number(e.dataset.ms), sha: e.dataset.sha256 }));
    if (i > 0) wasmMs.push(t.ms); // the first run warms the wasm up
    wasmSha = t.sha;
    await page.tap('#thumbs .thumb button');
    await page.waitForSelector('#thumbs .thumb', { state: 'detached' });
  }
  console.log(`12 MP photo (${(photo.length / 1048576).toFixed(1)} MiB) in the worker (wasm SIMD128, one thread): median ${median(wasmMs).toFixed(0)} ms [${wasmMs.map((x) => x.toFixed(0)).join(', ')}]`);
  await context.close();

  const out = execFileSync('cargo', ['run', '--quiet', '--release', '-p', 'anfang-core', '--example', 'photo_time', '--', PHOTO, String(RUNS)], { cwd: ROOT, encoding: 'utf8' });
  const native = /median_ms=([\d.]+).*sha256=(\w+)/.exec(out);
  console.log(`12 MP photo natively (release, rayon decode, banded threads): median ${Number(native[1]).toFixed(0)} ms`);
  console.log(`worker / native: ${(median(wasmMs) / Number(native[1])).toFixed(1)}x; same output bytes: ${native[2] === wasmSha}`);
} finally {
  await browser.close();
  await server.stop();
}
