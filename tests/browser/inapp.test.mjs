// The enrollment link opened inside WeChat (or another app's own browser):
// the app says so in Chinese and how to open it in the phone's browser,
// instead of an app that seems to work offline and then loses findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, onScreen, phoneContext, shot, startServer } from './harness.mjs';

const WECHAT_ANDROID =
  'Mozilla/5.0 (Linux; Android 13; V2154A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 ' +
  'MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64';
const WECHAT_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
  'Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN';

// Real user agents: apps' own browsers, and real browsers that must pass.
const IN_APP = [
  [WECHAT_ANDROID, '微信'],
  [WECHAT_IOS, '微信'],
  ['Mozilla/5.0 (Linux; Android 12; M2012K11AC; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/105.0.5195.136 Mobile Safari/537.36 wxwork/4.1.16 MicroMessenger/7.0.1 NetType/WIFI Language/zh ColorScheme/Light', '企业微信'],
  ['Mozilla/5.0 (Linux; Android 12; PGJM10 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.72 MQQBrowser/6.2 TBS/046011 Mobile Safari/537.36 V1_AND_SQ_8.9.28_3700_YYB_D QQ/8.9.28.10155 NetType/WIFI WebP/0.3.0', 'QQ'],
  ['Mozilla/5.0 (Linux; U; Android 11; zh-CN; M2007J3SC Build/RKQ1.200826.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 Mobile Safari/537.36 AliApp(DingTalk/7.0.40) com.alibaba.android.rimet/28466183 Channel/700159 language/zh-CN abi/64 UT4Aplus/0.2.25 colorScheme/light', '钉钉'],
  ['Mozilla/5.0 (Linux; U; Android 12; zh-CN; 22041211AC Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.43 Mobile Safari/537.36 UCBS/3.22.2.43_220615173149 ChannelId(5) NebulaSDK/1.8.100112 Nebula AlipayDefined(nt:WIFI,ws:393|0|2.75) AliApp(AP/10.2.96.8000) AlipayClient/10.2.96.8000 Language/zh-Hans', '支付宝'],
  ['Mozilla/5.0 (Linux; Android 13; 2211133C Build/TKQ1.220905.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/110.0.5481.153 Mobile Safari/537.36 aweme_260000 JsSdk/1.0 NetType/WIFI Channel/xiaomi_1128_64 app_version/26.0.0', '抖音'],
  ['Mozilla/5.0 (Linux; Android 12; V2049A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/104.0.5112.97 Mobile Safari/537.36 Weibo (vivo-V2049A__weibo__13.1.0__android__android12)', '微博'],
  ['Mozilla/5.0 (Linux; Android 13; PHB110; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/108.0.5359.128 Mobile Safari/537.36 Lark/5.30.0 LarkLocale/zh_CN ChannelName/Feishu', '飞书'],
];
const REAL_BROWSERS = [
  'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; U; Android 12; zh-cn; PGJM10 Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.72 MQQBrowser/13.4 Mobile Safari/537.36 COVC/046305',
  'Mozilla/5.0 (Linux; U; Android 12; zh-CN; V2171A Build/SP1A.210812.003) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 UCBrowser/15.5.0.1259 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.11.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.0.322 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; U; Android 13; zh-CN; 2211133C Build/TKQ1.220905.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/100.0.4896.58 Quark/6.4.5.360 Mobile Safari/537.36',
];

// The detection exactly as app.js has it, without a browser.
const app = readFileSync(new URL('../../web/app.js', import.meta.url), 'utf8');
const table = app.match(/const IN_APP_BROWSERS = \[[\s\S]*?\n\];/)[0];
const fnSrc = app.match(/function inAppBrowser\(ua\) \{[\s\S]*?\n\}/)[0];
const inAppBrowser = new Function(`${table}\n${fnSrc}\nreturn inAppBrowser;`)();

test("apps' own browsers are named and real browsers pass", () => {
  for (const [ua, name] of IN_APP) assert.equal(inAppBrowser(ua), name, ua);
  for (const ua of REAL_BROWSERS) assert.equal(inAppBrowser(ua), null, ua);
});

test('an enrollment link opened in WeChat explains how to open it in the browser, and the code still works there', async () => {
  const server = await startServer();
  const browser = await launch();
  try {
    const code = [...server.demo.codes.values()][0];
    const link = `/app/#enroll=${code}`;
    for (const [ua, step] of [[WECHAT_ANDROID, '在浏览器中打开'], [WECHAT_IOS, '在 Safari 中打开']]) {
      const context = await phoneContext(browser, server, {
        userAgent: ua,
        permissions: ['clipboard-read', 'clipboard-write'],
      });
      const page = await context.newPage();
      await page.goto(link);
      await onScreen(page, 'inapp');
      const text = await page.textContent('#screen-inapp');
      assert.match(text, /微信内置的浏览器/, text);
      assert.match(text, /不能可靠地离线保存记录/, text);
      assert.ok(text.includes(step), `${step} missing: ${text}`);
      assert.equal(await page.isVisible('#enroll-form'), false, 'no enrollment inside WeChat');
      // Nothing was set up that would make the app seem to work there.
      assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 0);
      assert.ok((await page.evaluate(() => location.hash)).includes(code), 'the code stays in the link');
      await page.click('#inapp-copy');
      await page.waitForFunction(() => document.getElementById('inapp-msg').textContent.length > 0);
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${server.url}${link}`);
      await shot(page, ua === WECHAT_IOS ? 'inapp-wechat-ios' : 'inapp-wechat-android');
      await context.close();
    }
    // The same link in the phone's own browser enrolls with the same code
    // (a link with a code enrolls by itself when online).
    const context = await phoneContext(browser, server);
    const page = await context.newPage();
    await page.goto(link);
    await onScreen(page, 'home');
    assert.ok((await page.textContent('#home-alias')).length > 0, 'enrolled under an alias');
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
