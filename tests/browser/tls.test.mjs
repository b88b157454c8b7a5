// `serve --tls-cert/--tls-key`: the server speaks HTTPS itself (phones need
// a secure origin for the service worker, camera and location).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_BIN, launch, shot, startServer } from './harness.mjs';

function httpsGet(url, ca) {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject).end();
  });
}

test('the server serves the app and the API over TLS from a certificate and key on the command line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anfang-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const server = await startServer(['--tls-cert', cert, '--tls-key', key]);
  try {
    assert.match(server.url, /^https:\/\//);
    const ca = readFileSync(cert);
    const health = await httpsGet(`${server.url}/api/v1/health`, ca);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    const app = await httpsGet(`${server.url}/app/`, ca);
    assert.equal(app.status, 200);
    assert.match(app.body, /暗访/);
    // A client that does not trust the certificate is refused by TLS itself.
    await assert.rejects(httpsGet(`${server.url}/api/v1/health`, undefined), /self-signed|certificate/i);
    // Plain HTTP on the TLS port gets no HTTP answer.
    await assert.rejects(new Promise((resolve, reject) => {
      httpGet(server.url.replace('https:', 'http:') + '/api/v1/health', (res) => resolve(res.statusCode)).on('error', reject);
    }));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Chromium signs in to the console over the built-in TLS (HTTP/2), and the session cookie is Secure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anfang-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const server = await startServer(['--tls-cert', cert, '--tls-key', key]);
  const browser = await launch();
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', baseURL: server.url });
    const page = await context.newPage();
    // Chromium negotiates HTTP/2 over TLS, which sends no Host header: the
    // case that used to refuse every sign-in.
    await page.goto('/console/login');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', server.demo.adminPassword);
    await Promise.all([page.waitForNavigation(), page.click('button')]);
    assert.doesNotMatch(page.url(), /\/console\/login/, `still on the login page: ${await page.textContent('body')}`);
    await shot(page, 'console-over-tls');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'anfang_session');
    assert.ok(session, 'the console set its session cookie');
    assert.equal(session.secure, true, 'a cookie set over TLS is Secure');
    assert.equal(session.httpOnly, true);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable certificate stops the server with a message that names the files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'anfang-tls-'));
  try {
    await assert.rejects(startServer(['--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'missing-key.pem')]), /exited early/);
    let stderr = '';
    try {
      execFileSync(SERVER_BIN, ['serve', '--data-dir', dir, '--listen', '127.0.0.1:0', '--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'k.pem')],
        { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    } catch (e) {
      stderr = e.stderr;
    }
    assert.match(stderr, /cannot load the TLS certificate .*missing\.pem/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
