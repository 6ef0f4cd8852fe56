// Browser tests: the example SPA (another origin than the API) and Swagger
// UI's "Try it out", in headless Chromium driven by playwright-core.
// Started by tests/browser/run, which starts the API and serves the SPA;
// screenshots go to tests/browser/artifacts/.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { join } from "node:path";

const API = process.env.API_URL;
const SPA = process.env.SPA_URL;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const PASSWORD = "a browser passphrase 2026";
mkdirSync(ARTIFACTS, { recursive: true });

let passed = 0;
let failed = 0;
async function step(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(error && error.stack || error).split("\n").slice(0, 4).join("\n     ")}`);
    throw error;
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// A real PNG (48x48, a gradient), made here.
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push((x * 5) & 255, (y * 5) & 255, 160);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

async function apiJson(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${API}${path}`, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

try {
  // ---- The example SPA --------------------------------------------------
  const spa = await browser.newContext();
  const page = await spa.newPage();
  const email = `spa-${Date.now()}@example.com`;
  const picture = join(ARTIFACTS, "upload.png");
  writeFileSync(picture, png(48, 48));

  await step("the SPA loads, logged out", async () => {
    await page.goto(`${SPA}/?api=${encodeURIComponent(API)}`);
    await page.waitForSelector("#register-form", { state: "visible" });
    await page.screenshot({ path: join(ARTIFACTS, "spa-1-logged-out.png"), fullPage: true });
  });

  await step("a weak password shows each rule broken", async () => {
    const form = page.locator("#register-form");
    await form.locator("input[name=email]").fill(email);
    await form.locator("input[name=password]").fill("12345");
    await form.locator("button").click();
    const message = page.locator("#message");
    await message.waitFor({ state: "visible" });
    const text = await message.innerText();
    assert(text.includes("validation_failed") && text.includes("too short") && text.includes("entirely numeric"), text);
    await page.screenshot({ path: join(ARTIFACTS, "spa-2-validation.png"), fullPage: true });
  });

  await step("register logs in and shows me", async () => {
    const form = page.locator("#register-form");
    await form.locator("input[name=password]").fill(PASSWORD);
    await form.locator("button").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
    const shown = await page.locator("#me-email").innerText();
    assert(shown === email, `shows ${shown}`);
    assert(await page.locator("#register-form").isHidden(), "the logged-out forms are hidden");
  });

  await step("a javascript: portfolio site is refused with the field's message", async () => {
    const form = page.locator("#profile-form");
    await form.locator("input[name=portfolio_site]").fill("javascript:alert(1)");
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelector("#message").innerText.includes("portfolio_site"));
  });

  await step("the profile is saved and survives a reload", async () => {
    const form = page.locator("#profile-form");
    await form.locator("input[name=portfolio_site]").fill("https://ada.example.com");
    await form.locator("textarea[name=bio]").fill("Writes engines.");
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelector("#message").innerText.includes("Profile saved"));
    await page.reload();
    await page.waitForSelector("#authenticated", { state: "visible" });
    await page.waitForFunction(() => document.querySelector("#profile-form [name=bio]").value === "Writes engines.");
  });

  await step("a picture uploads and is shown", async () => {
    await page.locator("#picture-form input[type=file]").setInputFiles(picture);
    await page.locator("#picture-form button[type=submit]").click();
    await page.waitForFunction(() => {
      const img = document.querySelector("#picture");
      return !img.hidden && img.complete && img.naturalWidth === 48;
    });
    const src = await page.locator("#picture").getAttribute("src");
    assert(src.startsWith(`${API}/media/profile_pics/`), src);
    await page.screenshot({ path: join(ARTIFACTS, "spa-3-profile.png"), fullPage: true });
  });

  await step("sessions are listed and another one is revoked", async () => {
    const login = await apiJson("POST", "/accounts/login", { email, password: PASSWORD, client: "app" });
    assert(login.status === 200, `app login: ${login.status}`);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll("#sessions tr").length === 2);
    await page.screenshot({ path: join(ARTIFACTS, "spa-4-sessions.png"), fullPage: true });
    await page.locator("#sessions tr:not(.current) button").click();
    await page.waitForFunction(() => document.querySelectorAll("#sessions tr").length === 1);
    const me = await apiJson("GET", "/accounts/me", undefined, login.body.token);
    assert(me.status === 401, `the revoked token answers ${me.status}`);
  });

  await step("logout returns to the logged-out page", async () => {
    await page.locator("#logout").click();
    await page.waitForSelector("#register-form", { state: "visible" });
    await page.reload();
    await page.waitForSelector("#register-form", { state: "visible" });
  });

  await step("a wrong password shows invalid_credentials", async () => {
    const form = page.locator("#login-form");
    await form.locator("input[name=email]").fill(email);
    await form.locator("input[name=password]").fill("not my password at all");
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelector("#message").innerText.includes("invalid_credentials"));
    await page.screenshot({ path: join(ARTIFACTS, "spa-5-wrong-password.png"), fullPage: true });
  });

  await step("\"keep me logged in\" gives a cookie that outlives the browser", async () => {
    const form = page.locator("#login-form");
    await form.locator("input[name=email]").fill(email);
    await form.locator("input[name=password]").fill(PASSWORD);
    await form.locator("input[name=remember]").check();
    await form.locator("button").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
    const session = (await spa.cookies(API)).find((c) => c.name === "sessionid");
    assert(session, "a session cookie");
    const days = (session.expires - Date.now() / 1000) / 86400;
    assert(days > 13.9 && days <= 14, `a two-week cookie, not a session cookie: expires in ${days} days`);
    await page.locator("#logout").click();
    await page.waitForSelector("#register-form", { state: "visible" });
  });

  // ---- Swagger UI ----------------------------------------------------------
  const docs = await (await browser.newContext()).newPage();
  const docsEmail = `docs-${Date.now()}@example.com`;
  const made = await apiJson("POST", "/accounts/register", { email: docsEmail, password: PASSWORD, client: "app" });
  assert(made.status === 201, `register for Swagger: ${made.status}`);

  async function tryOut(operation, body) {
    const block = docs.locator(`#${operation}`);
    await block.locator(".opblock-summary").first().click();
    await block.locator(".try-out__btn").click();
    if (body !== undefined) {
      await block.locator("textarea.body-param__text").fill(JSON.stringify(body));
    }
    await block.locator("button.execute").click();
    const status = block.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor();
    return { status: (await status.innerText()).trim(), block };
  }

  await step("Swagger UI is served with its own assets", async () => {
    const offsite = [];
    docs.on("request", (r) => { if (!r.url().startsWith(API)) offsite.push(r.url()); });
    await docs.goto(`${API}/docs/`);
    await docs.waitForSelector("#operations-accounts-login");
    assert(offsite.length === 0, `requests off the service: ${offsite}`);
  });

  await step("Try it out: login with a cookie session", async () => {
    const { status } = await tryOut("operations-accounts-login", { email: docsEmail, password: PASSWORD });
    assert(status === "200", `login answered ${status}`);
  });

  await step("Try it out: me, with the session cookie", async () => {
    const { status, block } = await tryOut("operations-me-get_me");
    assert(status === "200", `me answered ${status}`);
    const body = await block.locator(".live-responses-table .response-col_description pre").first().innerText();
    assert(body.includes(docsEmail), body);
    await docs.screenshot({ path: join(ARTIFACTS, "docs-1-me.png"), fullPage: true });
  });

  await step("Try it out: logout sends the CSRF header", async () => {
    const { status } = await tryOut("operations-accounts-logout");
    assert(status === "204", `logout answered ${status}`);
    await docs.screenshot({ path: join(ARTIFACTS, "docs-2-logout.png"), fullPage: true });
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
