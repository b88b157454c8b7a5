// Harness for the browser tests and the benchmark: the real anfang-server
// binary on 127.0.0.1 with a fresh data dir (readiness read from its own
// "listening on" line, never a sleep), Debian's Chromium through
// playwright-core, and real JPEG photos made by the browser's own encoder.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
export const SERVER_BIN = process.env.ANFANG_SERVER_BIN || join(TARGET_DIR, 'debug/anfang-server');
/** The inspectors' command-line client (a native anfang-core), for tests that need findings fast. */
export const CLI_BIN = process.env.ANFANG_CLI_BIN || join(TARGET_DIR, 'debug/anfang');
export const WEB_DIR = process.env.ANFANG_WEB_DIR || join(ROOT, 'web/dist');
export const ARTIFACTS = join(TARGET_DIR, 'browser-artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Demo points are around here (server/src/demo.rs). */
export const NEAR_DEMO = { latitude: 31.2092, longitude: 107.4682, accuracy: 8 };

/**
 * Starts `anfang-server serve --demo` on a free port, with a fresh data dir
 * unless `dataDir` is given (a second start serves the same data and prints
 * fresh enrollment codes). `env` adds variables such as ANFANG_TEST_NOW.
 */
export async function startServer(extraArgs = [], { dataDir = mkdtempSync(join(tmpdir(), 'anfang-browser-')), env = {} } = {}) {
  const child = spawn(
    SERVER_BIN,
    ['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn', ...env } },
  );
  const demo = { codes: new Map(), adminPassword: null, units: new Map() };
  const url = await new Promise((resolveUrl, reject) => {
    let buf = '';
    child.on('exit', (code) => reject(new Error(`server exited early (${code})`)));
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m;
        if ((m = /^inspector (\S+) enrollment code: (\S+)$/.exec(line))) demo.codes.set(m[1], m[2]);
        if ((m = /^office sign-in: username admin password (\S+)$/.exec(line))) demo.adminPassword = m[1];
        if ((m = /^unit sign-in: unit (\S+) username (\S+) password (\S+)/.exec(line))) demo.units.set(m[1], { username: m[2], password: m[3] });
        if ((m = /^listening on (https?:\/\/\S+)$/.exec(line))) resolveUrl(m[1]);
      }
    });
  });
  return {
    url,
    demo,
    dataDir,
    /** Stops the server; the data dir goes too unless `keepData`. */
    async stop({ keepData = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode != null ? r() : child.on('exit', r)));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot to target/browser-artifacts/NAME.png. */
export const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Waits until the app shows the named screen. */
export const onScreen = (page, name) => page.waitForSelector(`body[data-screen="${name}"]`, { timeout: 30_000 });

/** An office session token for the demo admin. */
export async function adminToken(server) {
  const res = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: server.demo.adminPassword }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/** Every finding the office API lists (all pages). */
export async function officeFindings(server, token) {
  const items = [];
  let next = null;
  do {
    const q = new URLSearchParams({ limit: '500' });
    if (next) q.set('next', next);
    const res = await fetch(`${server.url}/api/v1/findings?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`findings: ${res.status} ${await res.text()}`);
    const page = await res.json();
    items.push(...page.items);
    next = page.next;
  } while (next);
  return items;
}

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A phone: small touch screen, Chinese locale, location granted near a demo
 * point. `options` adds or replaces context options (another user agent).
 */
export async function phoneContext(browser, server, options = {}) {
  return browser.newContext({
    viewport: { width: 390, height: 780 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation: NEAR_DEMO,
    permissions: ['geolocation'],
    serviceWorkers: 'allow',
    baseURL: server.url,
    ...options,
  });
}

/**
 * A real JPEG (the browser's own encoder) of a camera-like scene: gradients
 * and noise, so it compresses like a photo, not like a flat test card.
 */
export async function makeJpeg(page, { width, height, seed, quality = 0.92 }) {
  const b64 = await page.evaluate(async ({ width, height, seed, quality }) => {
    const canvas = new OffscreenCanvas(width, height);
    const g = canvas.getContext('2d');
    const grad = g.createLinearGradient(0, 0, width, height);
    grad.addColorStop(0, `hsl(${(seed * 67) % 360} 60% 55%)`);
    grad.addColorStop(1, `hsl(${(seed * 67 + 140) % 360} 50% 30%)`);
    g.fillStyle = grad;
    g.fillRect(0, 0, width, height);
    let s = seed * 9973 + 1;
    const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 400; i++) {
      g.fillStyle = `hsla(${rnd() * 360} 70% ${30 + rnd() * 50}% / .6)`;
      g.beginPath();
      g.arc(rnd() * width, rnd() * height, 10 + rnd() * width / 12, 0, 7);
      g.fill();
    }
    const img = g.getImageData(0, 0, width, height);
    for (let i = 0; i < img.data.length; i += 4) {
      const n = (rnd() - 0.5) * 24;
      img.data[i] += n; img.data[i + 1] += n; img.data[i + 2] += n;
    }
    g.putImageData(img, 0, 0);
    g.fillStyle = '#fff';
    g.font = `${Math.round(height / 10)}px sans-serif`;
    g.fillText(`photo ${seed}`, width / 20, height / 2);
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin);
  }, { width, height, seed, quality });
  return Buffer.from(b64, 'base64');
}
