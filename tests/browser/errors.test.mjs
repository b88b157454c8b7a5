// The phone app's error headings (web/app.js ERROR_ZH + explain) for the
// codes the core reports as a kind: a revoked phone reads 此设备已被停用, the
// same text as the core's error code. Plain node, no browser:
//   node --test tests/browser/errors.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const app = readFileSync(new URL('web/app.js', root), 'utf8');
const codes = readFileSync(new URL('client-core/src/error_code.rs', root), 'utf8');

// Evaluates the table and the function exactly as app.js has them.
const table = app.match(/const ERROR_ZH = \{[\s\S]*?\n\};/)[0];
const explainSrc = app.match(/function explain\(e\) \{[\s\S]*?\n\}/)[0];
const explain = new Function(`${table}\n${explainSrc}\nreturn explain;`)();

function coreZh(wire) {
  const m = codes.match(new RegExp(`=> "${wire}", "([^"]+)"`));
  assert.ok(m, `the core has no code ${wire}`);
  return m[1];
}

test('a revoked or expired phone reads the core text for its code', () => {
  for (const kind of ['device_revoked', 'device_expired']) {
    const shown = explain({ kind, message: '未同步的记录仍保存在本机' });
    assert.ok(shown.startsWith(coreZh(kind) + '：'), shown);
  }
  assert.equal(coreZh('device_revoked'), '此设备已被停用');
});
