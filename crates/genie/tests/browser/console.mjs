// Drives genie's web console in headless Chromium (Debian's, through playwright-core), for
// crates/genie/tests/console.rs, which starts genie, makes the requests this script looks for
// and passes what to expect in the environment:
//   GENIE_URL, KEY_A, KEY_B, KEY_REVOKED   the server and three keys (the last one revoked)
//   EXPECT   JSON {a: [request ids of key A], b: [… of key B], chaos: {id, fault}}
//   CHROMIUM, PLAYWRIGHT_DIR   the browser, and the folder whose node_modules has playwright-core
//   SCREENSHOT   optional: save a PNG of the console there
// Prints one line `RESULT {json}` (measurements) and exits 0, or says what failed and exits 1.

import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";

const require = createRequire(`${process.env.PLAYWRIGHT_DIR}/`);
const { chromium } = require("playwright-core");

const url = process.env.GENIE_URL;
const keys = { a: process.env.KEY_A, b: process.env.KEY_B, revoked: process.env.KEY_REVOKED };
const expect = JSON.parse(process.env.EXPECT);
const secrets = Object.values(keys);

function check(ok, what) {
  if (!ok) throw new Error(what);
}

const urls = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  // root in CI containers: Chromium's sandbox needs user namespaces it may not have
  args: ["--no-sandbox"],
});

/** A fresh context (empty cache and sessionStorage) with its page, console errors and URLs. */
async function open(withKey) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (withKey) {
    // as if the key had been entered earlier in this tab
    await context.addInitScript(([k, v]) => sessionStorage.setItem(k, v), ["genie-console-key", withKey]);
  }
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.on("request", (r) => urls.push(r.url()));
  return { context, page, errors };
}

async function logIn(page, key) {
  await page.goto(url);
  await page.fill("#key-input", key);
  await page.click("#key-form button[type=submit]");
}

async function ready(page) {
  await page.waitForSelector("html[data-ready=true] #app:not([hidden])", { timeout: 15000 });
}

const result = {};
try {
  // 1. first load with a key already in the tab: weight and time to interactive, cold cache
  {
    const { context, page, errors } = await open(keys.a);
    const sizes = [];
    page.on("requestfinished", async (r) => {
      const s = await r.sizes().catch(() => null);
      if (s) sizes.push(s.responseBodySize + s.responseHeadersSize);
    });
    await page.goto(url);
    await ready(page);
    const mark = (name) => page.evaluate((n) => Math.round(performance.getEntriesByName(n)[0].startTime), name);
    result.interactive_ms = await mark("console-interactive");
    result.complete_ms = await mark("console-complete");
    // every response of the load has finished once the page is drawn
    await page.waitForTimeout(300);
    result.first_load_bytes = sizes.reduce((a, b) => a + b, 0);
    result.first_load_requests = sizes.length;
    const enc = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .map((e) => [e.name.replace(location.origin, ""), e.encodedBodySize, e.decodedBodySize, Math.round(e.startTime), Math.round(e.responseEnd)])
    );
    result.resources = enc;
    result.html_ms = await page.evaluate(() => Math.round(performance.getEntriesByType("navigation")[0].responseEnd));
    check(result.first_load_bytes <= 1024 * 1024, `first load is ${result.first_load_bytes} bytes, over 1 MB`);
    check(errors.length === 0, `console errors on first load: ${errors.join(" | ")}`);
    await context.close();
  }

  // 2. key A through the form, as a user does
  const a = await open(null);
  await logIn(a.page, keys.a);
  await ready(a.page);
  check(a.page.url().replace(/#.*$/, "") === `${url}/`, `the page moved to ${a.page.url()}`);

  // the clock advances (genie runs at --speed 600: ten virtual minutes a second)
  const t0 = await a.page.textContent("#as-of");
  check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(t0), `clock shows ${t0}`);
  await a.page.waitForFunction((t) => document.querySelector("#as-of").textContent !== t, t0, { timeout: 10000 });
  const t1 = await a.page.textContent("#as-of");
  check(t1 > t0, `the clock went from ${t0} to ${t1}`);
  result.clock = [t0, t1];
  const rows = await a.page.$$eval("#counts tbody tr", (trs) => trs.length);
  check(rows > 0, "no row counts");

  // A's requests are in A's log, B's are not; the chaos fault is marked as such
  for (const id of expect.a) await a.page.waitForSelector(`#log tr[data-request-id="${id}"]`, { timeout: 10000 });
  for (const id of expect.b) check((await a.page.$(`#log tr[data-request-id="${id}"]`)) === null, `B's request ${id} in A's log`);
  const fault = await a.page.textContent(`#log tr[data-request-id="${expect.chaos.id}"] td.chaos`);
  check(fault.includes(`chaos: ${expect.chaos.fault}`), `chaos request shows ${JSON.stringify(fault)}`);

  // the curl snippet runs as shown, and its request appears in A's log
  const snippet = await a.page.textContent("pre[data-snippet=curl]");
  check(snippet.includes(url), `the snippet lacks the base URL: ${snippet}`);
  check(!secrets.some((k) => snippet.includes(k)), "the snippet shows a key");
  const before = await a.page.$$eval("#log td.path", (tds) => tds.filter((t) => t.textContent === "/v1/orders?limit=5").length);
  const out = execFileSync("bash", ["-c", snippet], { env: { ...process.env, GENIE_API_KEY: keys.a }, encoding: "utf8" });
  const body = JSON.parse(out);
  // under --chaos the answer may be an injected problem: still the API's JSON
  check(body.object === "list" || String(body.detail).includes("--chaos"), `curl got ${out.slice(0, 300)}`);
  await a.page.waitForFunction(
    (n) => [...document.querySelectorAll("#log td.path")].filter((t) => t.textContent === "/v1/orders?limit=5").length > n,
    before,
    { timeout: 10000 }
  );
  result.curl = { snippet, object: body.object ?? body.code };

  // the API reference lists every operation of /openapi.json
  const doc = await (await fetch(`${url}/openapi.json`)).json();
  const want = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`)).sort();
  const shown = (await a.page.$$eval("#ops [data-op]", (ds) => ds.map((d) => d.dataset.op))).sort();
  check(JSON.stringify(want) === JSON.stringify(shown), `reference shows ${shown} but the document has ${want}`);
  result.operations = shown.length;
  check(a.errors.length === 0, `console errors: ${a.errors.join(" | ")}`);

  // "try it" sends the key: the request lands in A's log
  const me = a.page.locator('[data-op="GET /v1/me"]');
  await me.locator("summary").click();
  await me.locator("button[type=submit]").click();
  await me.locator(".result-status", { hasText: "→" }).waitFor({ timeout: 10000 });
  const tried = await me.locator(".result-status").textContent();
  const triedId = /\((req_[0-9a-f]+)\)/.exec(tried)?.[1];
  check(triedId, `try it shows no request id: ${tried}`);
  await a.page.waitForSelector(`#log tr[data-request-id="${triedId}"]`, { timeout: 10000 });
  result.try_it = tried;
  // a try-it answered with an injected 5xx/429 is logged by Chromium as a failed load: fine
  const unexpected = a.errors.filter((e) => !/status of (429|500|503)/.test(e));
  check(unexpected.length === 0, `console errors: ${unexpected.join(" | ")}`);

  if (process.env.SCREENSHOT) {
    await me.locator("summary").click();
    await a.page.setViewportSize({ width: 1280, height: 1300 });
    await a.page.evaluate(() => window.scrollTo(0, 0));
    await a.page.screenshot({ path: process.env.SCREENSHOT });
  }

  // 3. key B sees its own requests only
  const b = await open(null);
  await logIn(b.page, keys.b);
  await ready(b.page);
  for (const id of expect.b) await b.page.waitForSelector(`#log tr[data-request-id="${id}"]`, { timeout: 10000 });
  for (const id of [...expect.a, expect.chaos.id, triedId]) {
    check((await b.page.$(`#log tr[data-request-id="${id}"]`)) === null, `A's request ${id} in B's log`);
  }
  const curlRows = await b.page.$$eval("#log td.path", (tds) => tds.filter((t) => t.textContent === "/v1/orders?limit=5").length);
  check(curlRows === 0, "A's curl request in B's log");
  check(b.errors.length === 0, `console errors for B: ${b.errors.join(" | ")}`);

  // 4. a revoked key is refused, and said so
  const r = await open(null);
  await logIn(r.page, keys.revoked);
  await r.page.waitForSelector("#key-error:not([hidden])", { timeout: 10000 });
  const refused = await r.page.textContent("#key-error");
  check(refused.includes("revoked"), `revoked key: ${refused}`);
  check(await r.page.isHidden("#app"), "the console opened with a revoked key");

  // 5. no key in any URL the browser asked for
  const leaked = urls.filter((u) => secrets.some((k) => u.includes(k)));
  check(leaked.length === 0, `a key in a URL: ${leaked}`);
  result.urls = urls.length;
  console.log(`RESULT ${JSON.stringify(result)}`);
} catch (e) {
  console.error(`console.mjs: ${e.stack || e}`);
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
