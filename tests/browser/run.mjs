// Browser tests: the example SPA (another origin than the API) and Swagger
// UI's "Try it out", in headless Chromium driven by playwright-core.
// Started by tests/browser/run, which starts maildev (a test SMTP server),
// the API mailing through it and serves the SPA; the mail is read through
// maildev's HTTP API and its links are opened in the page; screenshots go
// to tests/browser/artifacts/.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { createHmac } from "node:crypto";
import { join } from "node:path";

const API = process.env.API_URL;
const SPA = process.env.SPA_URL;
const MAILDEV = process.env.MAILDEV_URL;
const STAFF_EMAIL = process.env.STAFF_EMAIL;
const STAFF_PASSWORD = process.env.STAFF_PASSWORD;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const PASSWORD = "a browser passphrase 2026";
const NEW_PASSWORD = "a reset browser passphrase 2027";
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

// RFC 6238 (SHA-1, 6 digits, 30 s), as an authenticator app computes it.
function totpCode(base32, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[19] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, "0");
}
// The current step, once at least 4 s of it are left.
async function steadyStep() {
  for (;;) {
    const now = Math.floor(Date.now() / 1000);
    if (now % 30 < 26) return Math.floor(now / 30);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function apiJson(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${API}${path}`, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

// ---- Mail, through maildev's HTTP API ----------------------------------

async function clearMail() {
  const response = await fetch(`${MAILDEV}/api/email/all`, { method: "DELETE" });
  assert(response.ok, `maildev: DELETE /api/email/all answered ${response.status}`);
}

// The newest message to `to` that `match` accepts, polled for up to 15 s.
async function waitForMail(to, match, seconds = 15) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const response = await fetch(`${MAILDEV}/api/email`);
    assert(response.ok, `maildev: GET /api/email answered ${response.status}`);
    const found = (await response.json()).filter((mail) =>
      mail.to.some((t) => t.address.toLowerCase() === to.toLowerCase()) && match(mail));
    if (found.length > 0) return found[found.length - 1];
    if (Date.now() > deadline) throw new Error(`no matching mail to ${to} within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The link to one of the SPA's pages in a message's plain text: it keeps the
// API base, and its token also stands alone on a line (and is in the HTML).
function linkIn(mail, spaPage) {
  const lines = mail.text.split(/\r?\n/).map((line) => line.trim());
  const link = lines.find((line) => line.startsWith(`${SPA}/?`) && new URL(line).searchParams.get("page") === spaPage);
  assert(link, `no ${spaPage} link to the SPA in: ${mail.text}`);
  const url = new URL(link);
  assert(url.searchParams.get("api") === API, `the link's api= is ${url.searchParams.get("api")}`);
  const token = url.searchParams.get("token");
  assert(/^[A-Za-z0-9_-]{43}$/.test(token), `token ${token}`);
  assert(lines.includes(token), "the token stands alone on a line of the plain text");
  assert(mail.html.includes(token), "the HTML part carries the token");
  return link;
}
const linksTo = (spaPage) => (mail) => mail.text.includes(`page=${spaPage}&`);

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
  // /accounts/me with the page's session cookie.
  const meInPage = () => page.evaluate(async (api) => {
    const response = await fetch(`${api}/accounts/me`, { credentials: "include" });
    return (await response.json()).user;
  }, API);
  const messageHas = (text) => page.waitForFunction(
    (t) => !document.querySelector("#message").hidden && document.querySelector("#message").innerText.includes(t), text);
  await clearMail();

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

  let verifyLink;
  await step("registration mails a link to the SPA's verify page", async () => {
    const mail = await waitForMail(email, linksTo("verify-email"));
    verifyLink = linkIn(mail, "verify-email");
  });

  await step("the logged-in view says unverified; resend answers 202", async () => {
    assert(await page.locator("#me-verified").innerText() === "No", "shows unverified");
    await page.locator("#resend-verification").click();
    await page.waitForFunction(() => {
      const box = document.querySelector("#message");
      return !box.hidden && box.className === "info" && /verification/i.test(box.innerText);
    });
  });

  await step("the verification link verifies the address in the SPA", async () => {
    // The newest link, should the resend have mailed another.
    verifyLink = linkIn(await waitForMail(email, linksTo("verify-email")), "verify-email");
    await page.goto(verifyLink);
    await page.waitForFunction((e) => document.querySelector("#verify-status").innerText.includes(`${e} is verified`), email);
    assert(!page.url().includes("token="), `the token stays in the address bar: ${page.url()}`);
    await page.screenshot({ path: join(ARTIFACTS, "spa-6-verify-email.png"), fullPage: true });
    await page.locator("#verify a").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
    assert(await page.locator("#me-verified").innerText() === "Yes", "shows verified");
    assert(await page.locator("#resend-verification").isHidden(), "no resend button once verified");
    const me = await meInPage();
    assert(me.email_verified === true, `me: ${JSON.stringify(me)}`);
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

  await step("\"Forgot password?\" from the logged-out view answers 202", async () => {
    await clearMail();
    await page.locator("#forgot-link").click();
    const form = page.locator("#forgot-form");
    await form.waitFor({ state: "visible" });
    await form.locator("input[name=email]").fill(email);
    await form.locator("button").click();
    await page.waitForFunction(() => {
      const box = document.querySelector("#message");
      return !box.hidden && box.className === "info" && box.innerText.includes("reset the password");
    });
    await page.screenshot({ path: join(ARTIFACTS, "spa-7-forgot-password.png"), fullPage: true });
  });

  let resetLink;
  await step("the reset mail links to the SPA's reset page", async () => {
    resetLink = linkIn(await waitForMail(email, linksTo("reset-password")), "reset-password");
  });

  await step("the reset page shows each rule a weak password breaks", async () => {
    await page.goto(resetLink);
    const form = page.locator("#reset-form");
    await form.waitFor({ state: "visible" });
    await form.locator("input[name=new_password]").fill("12345");
    await form.locator("button").click();
    await messageHas("validation_failed");
    const text = await page.locator("#message").innerText();
    assert(text.includes("new_password: This password is too short") && text.includes("entirely numeric"), text);
    await page.screenshot({ path: join(ARTIFACTS, "spa-8-reset-password.png"), fullPage: true });
  });

  await step("the reset link sets a new password; the SPA logs in with it", async () => {
    const form = page.locator("#reset-form");
    await form.locator("input[name=new_password]").fill(NEW_PASSWORD);
    await form.locator("button").click();
    await page.waitForSelector("#login-form", { state: "visible" });
    await messageHas("Log in with the new password");
    const login = page.locator("#login-form");
    await login.locator("input[name=email]").fill(email);
    await login.locator("input[name=password]").fill(PASSWORD);
    await login.locator("button").click();
    await messageHas("invalid_credentials");
    await login.locator("input[name=email]").fill(email);
    await login.locator("input[name=password]").fill(NEW_PASSWORD);
    await login.locator("button").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
    assert(await page.locator("#me-email").innerText() === email, "logged in as the user");
  });

  const newEmail = `spa-new-${Date.now()}@example.com`;
  await step("change email wants the current password", async () => {
    await clearMail();
    const form = page.locator("#email-form");
    await form.locator("input[name=new_email]").fill(newEmail);
    await form.locator("input[name=password]").fill(PASSWORD);
    await form.locator("button").click();
    await messageHas("password: The password is not correct");
  });

  let changeLink;
  await step("change email mails a link to the new address and a notice to the old", async () => {
    const form = page.locator("#email-form");
    await form.locator("input[name=new_email]").fill(newEmail);
    await form.locator("input[name=password]").fill(NEW_PASSWORD);
    await form.locator("button").click();
    await page.waitForFunction(() => {
      const box = document.querySelector("#message");
      return !box.hidden && box.className === "info" && box.innerText.includes("new address");
    });
    await page.screenshot({ path: join(ARTIFACTS, "spa-9-change-email.png"), fullPage: true });
    changeLink = linkIn(await waitForMail(newEmail, linksTo("confirm-email-change")), "confirm-email-change");
    const notice = await waitForMail(email, (mail) => mail.text.includes(newEmail));
    assert(!notice.text.includes("token="), "the notice to the old address carries no link");
    assert(await page.locator("#me-email").innerText() === email, "the old address until confirmed");
  });

  await step("the confirmation link changes the email in the SPA", async () => {
    await page.goto(changeLink);
    await page.waitForFunction((e) => document.querySelector("#confirm-change-status").innerText.includes(`is now ${e}`), newEmail);
    await page.screenshot({ path: join(ARTIFACTS, "spa-10-confirm-email-change.png"), fullPage: true });
    await page.locator("#confirm-change a").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
    assert(await page.locator("#me-email").innerText() === newEmail, "shows the new address");
    const me = await meInPage();
    assert(me.email === newEmail && me.email_verified === true, `me: ${JSON.stringify(me)}`);
  });

  await step("used links show invalid_token", async () => {
    await page.goto(verifyLink);
    await messageHas("invalid_token");
    assert(await page.locator("#verify-status").innerText() === "This link cannot be used.", "the status says so");
    await page.screenshot({ path: join(ARTIFACTS, "spa-11-invalid-token.png"), fullPage: true });
    await page.goto(changeLink);
    await messageHas("invalid_token");
    await page.goto(resetLink);
    const form = page.locator("#reset-form");
    await form.waitFor({ state: "visible" });
    await form.locator("input[name=new_password]").fill("yet another browser passphrase");
    await form.locator("button").click();
    await messageHas("invalid_token");
    await page.goto(`${SPA}/?api=${encodeURIComponent(API)}`);
    await page.waitForSelector("#authenticated", { state: "visible" });
    assert(await page.locator("#me-email").innerText() === newEmail, "still logged in, as the new address");
  });

  await step("re-authentication: a wrong password is refused, the right one confirms the session", async () => {
    const form = page.locator("#reauth-form");
    await form.locator("input[name=password]").fill("not the password");
    await form.locator("button").click();
    await messageHas("validation_failed");
    await form.locator("input[name=password]").fill(NEW_PASSWORD);
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelector("#reauth-status").innerText.startsWith("Confirmed until"));
  });

  let totpSecret;
  let recoveryCodes;
  await step("two-factor: setup draws a QR code; a wrong code is refused, the right one turns it on", async () => {
    assert((await page.locator("#mfa-status").innerText()).startsWith("Off"), "off at first");
    await page.locator("#mfa-setup").click();
    await page.waitForSelector("#mfa-qr svg rect, #mfa-qr svg path", { state: "attached" });
    totpSecret = (await page.locator("#mfa-secret").innerText()).trim();
    const url = await page.locator("#mfa-qr").getAttribute("data-otpauth-url");
    assert(url.startsWith("otpauth://totp/") && url.includes(`secret=${totpSecret}`), url);
    await page.screenshot({ path: join(ARTIFACTS, "spa-12-two-factor-setup.png"), fullPage: true });
    const form = page.locator("#mfa-confirm-form");
    await form.locator("input[name=code]").fill("000000");
    await form.locator("button").click();
    await messageHas("invalid_code");
    const step = await steadyStep();
    await form.locator("input[name=code]").fill(totpCode(totpSecret, step));
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelectorAll("#mfa-code-list li").length === 10);
    recoveryCodes = await page.locator("#mfa-code-list li").allInnerTexts();
    await page.waitForFunction(() => document.querySelector("#mfa-status").innerText.startsWith("On"));
    await page.screenshot({ path: join(ARTIFACTS, "spa-13-recovery-codes.png"), fullPage: true });
  });

  const logInWithCode = async (code) => {
    await page.locator("#logout").click();
    const login = page.locator("#login-form");
    await login.waitFor({ state: "visible" });
    await login.locator("input[name=email]").fill(newEmail);
    await login.locator("input[name=password]").fill(NEW_PASSWORD);
    await login.locator("button").click();
    const second = page.locator("#mfa-login-form");
    await second.waitFor({ state: "visible" });
    assert((await meInPage()) === undefined, "no session before the second step");
    await second.locator("input[name=code]").fill(code);
    await second.locator("button").click();
  };

  await step("two-factor: the password alone is not enough; the code finishes the login", async () => {
    // The confirmation spent this step's code: the next step's, within the drift.
    await logInWithCode(totpCode(totpSecret, await steadyStep() + 1));
    await page.waitForSelector("#authenticated", { state: "visible" });
    assert((await meInPage()).email === newEmail, "logged in");
    await page.screenshot({ path: join(ARTIFACTS, "spa-14-two-step-login.png"), fullPage: true });
  });

  await step("two-factor: a recovery code works once", async () => {
    await logInWithCode(recoveryCodes[0]);
    await page.waitForSelector("#authenticated", { state: "visible" });
    await page.waitForFunction(() => document.querySelector("#mfa-status").innerText.includes("left: 9"));
    await logInWithCode(recoveryCodes[0]);
    await messageHas("invalid_code");
    await page.locator("#mfa-login-form input[name=code]").fill(recoveryCodes[1]);
    await page.locator("#mfa-login-form button").click();
    await page.waitForSelector("#authenticated", { state: "visible" });
  });

  await step("two-factor: turning it off needs the password", async () => {
    const form = page.locator("#mfa-off-form");
    await form.locator("input[name=password]").fill("not my password at all");
    await form.locator("button").click();
    await messageHas("validation_failed");
    await form.locator("input[name=password]").fill(NEW_PASSWORD);
    await form.locator("button").click();
    await page.waitForFunction(() => document.querySelector("#mfa-status").innerText.startsWith("Off"));
  });

  // ---- Swagger UI ----------------------------------------------------------
  const docs = await (await browser.newContext()).newPage();
  const docsEmail = `docs-${Date.now()}@example.com`;
  const made = await apiJson("POST", "/accounts/register", { email: docsEmail, password: PASSWORD, client: "app" });
  assert(made.status === 201, `register for Swagger: ${made.status}`);

  // Runs an operation through "Try it out", editing the request body in its
  // textarea when `body` is given. An operation may be run again: its block
  // stays open in try-out mode and the previous response is cleared first.
  // `example` is what the textarea held before the edit (Swagger's example).
  async function tryOut(operation, body) {
    const block = docs.locator(`#${operation}`);
    if (!(await block.evaluate((el) => el.classList.contains("is-open")))) {
      await block.locator(".opblock-summary").first().click();
    }
    // In try-out mode the button reads "Cancel" (and a "Reset" one joins it).
    if (await block.locator(".try-out__btn.cancel").count() === 0) await block.locator(".try-out__btn").click();
    const statuses = block.locator(".live-responses-table .response .response-col_status");
    const clear = block.locator("button.btn-clear");
    if (await clear.count() > 0) {
      await clear.click();
      await statuses.first().waitFor({ state: "detached" });
    }
    let example;
    if (body !== undefined) {
      const textarea = block.locator("textarea.body-param__text");
      example = await textarea.inputValue();
      await textarea.fill(JSON.stringify(body));
    }
    await block.locator("button.execute").click();
    const status = statuses.first();
    await status.waitFor();
    return { status: (await status.innerText()).trim(), block, example };
  }
  // The response body Swagger UI shows for the last execution.
  const responseBody = (block) =>
    block.locator(".live-responses-table .response-col_description pre").first().innerText();
  const tokenOf = (link) => new URL(link).searchParams.get("token");

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

  await step("Try it out: my second factor; no setup before the address is verified", async () => {
    const { status, block } = await tryOut("operations-mfa-get_mfa");
    assert(status === "200", `GET /accounts/mfa answered ${status}`);
    assert((await responseBody(block)).includes("totp_enabled"), "the status body");
    const setup = await tryOut("operations-mfa-setup_totp", {});
    assert(setup.status === "403", `setup answered ${setup.status}`);
    assert((await responseBody(setup.block)).includes("email_not_verified"), "email_not_verified");
  });

  await step("Try it out: logout sends the CSRF header", async () => {
    const { status } = await tryOut("operations-accounts-logout");
    assert(status === "204", `logout answered ${status}`);
    await docs.screenshot({ path: join(ARTIFACTS, "docs-2-logout.png"), fullPage: true });
  });

  await step("Try it out: the second login step with a bogus token answers 401 invalid_token", async () => {
    const { status, block } = await tryOut("operations-accounts-login_mfa", { mfa_token: "x".repeat(64), code: "123456" });
    assert(status === "401", `login/mfa answered ${status}`);
    assert((await responseBody(block)).includes("invalid_token"), "the problem code");
  });

  // The mail flows, each new operation run from Swagger UI. The account was
  // registered above (mailing it a verification link) and is logged out.
  let resetAccepted;
  await step("Try it out: password reset for an unknown address answers 202", async () => {
    const { status, block, example } = await tryOut("operations-password_reset-request_reset",
      { email: `nobody-${Date.now()}@example.com` });
    assert(status === "202", `password reset answered ${status}`);
    assert("email" in JSON.parse(example), `the textarea's example: ${example}`);
    resetAccepted = await responseBody(block);
    assert(resetAccepted.includes("detail"), resetAccepted);
  });

  await step("Try it out: email verify with a bogus token answers 400 invalid_token", async () => {
    const { status, block, example } = await tryOut("operations-email-verify", { token: "x".repeat(43) });
    assert(status === "400", `email verify answered ${status}`);
    assert("token" in JSON.parse(example), `the textarea's example: ${example}`);
    const shown = await responseBody(block);
    assert(shown.includes("invalid_token"), shown);
    await block.screenshot({ path: join(ARTIFACTS, "docs-5-invalid-token.png") });
  });

  await step("Try it out: login again, for the verification steps", async () => {
    const { status, block } = await tryOut("operations-accounts-login", { email: docsEmail, password: PASSWORD });
    assert(status === "200", `login answered ${status}: ${await responseBody(block)}`);
  });

  await step("Try it out: send verification with the session answers 202", async () => {
    const { status, block } = await tryOut("operations-email-send_verification");
    // Not yet verified, so not 409 email_already_verified (that comes below).
    assert(status === "202", `send verification answered ${status}: ${await responseBody(block)}`);
    await block.screenshot({ path: join(ARTIFACTS, "docs-6-send-verification.png") });
  });

  await step("Try it out: email verify with the mailed token answers 200, verified", async () => {
    // Registration's link: the request above, within EMAIL_RESEND_INTERVAL_SECS, mails none.
    // (Verified before the reset below: a completed reset verifies the address too.)
    const link = linkIn(await waitForMail(docsEmail, linksTo("verify-email")), "verify-email");
    const { status, block } = await tryOut("operations-email-verify", { token: tokenOf(link) });
    assert(status === "200", `email verify answered ${status}: ${await responseBody(block)}`);
    const shown = JSON.parse(await responseBody(block));
    assert(shown.user.email === docsEmail && shown.user.email_verified === true, JSON.stringify(shown));
  });

  await step("Try it out: send verification once verified answers 409 email_already_verified", async () => {
    const { status, block } = await tryOut("operations-email-send_verification");
    assert(status === "409", `send verification answered ${status}`);
    const shown = await responseBody(block);
    assert(shown.includes("email_already_verified"), shown);
  });

  await step("Try it out: re-authenticate, then a TOTP setup", async () => {
    const reauth = await tryOut("operations-me-reauthenticate", { password: PASSWORD });
    assert(reauth.status === "200", `reauthenticate answered ${reauth.status}: ${await responseBody(reauth.block)}`);
    assert((await responseBody(reauth.block)).includes("reauthenticated_until"), "reauthenticated_until");
    const setup = await tryOut("operations-mfa-setup_totp", {});
    assert(setup.status === "200", `setup answered ${setup.status}: ${await responseBody(setup.block)}`);
    assert((await responseBody(setup.block)).includes("otpauth://totp/"), "the otpauth URL");
    const confirm = await tryOut("operations-mfa-confirm_totp", { code: "000000" });
    assert(confirm.status === "400", `confirm with a wrong code answered ${confirm.status}`);
  });

  let docsResetLink;
  await step("Try it out: password reset for the account answers the same 202 and mails a link", async () => {
    const { status, block } = await tryOut("operations-password_reset-request_reset", { email: docsEmail });
    assert(status === "202", `password reset answered ${status}`);
    const shown = await responseBody(block);
    assert(shown === resetAccepted, `${shown} differs from the unknown address's ${resetAccepted}`);
    await block.screenshot({ path: join(ARTIFACTS, "docs-3-password-reset.png") });
    docsResetLink = linkIn(await waitForMail(docsEmail, linksTo("reset-password")), "reset-password");
  });

  await step("Try it out: reset confirm with the mailed token answers 204", async () => {
    const { status, block, example } = await tryOut("operations-password_reset-confirm_reset",
      { token: tokenOf(docsResetLink), new_password: NEW_PASSWORD });
    assert(status === "204", `reset confirm answered ${status}`);
    const shape = JSON.parse(example);
    assert("token" in shape && "new_password" in shape, `the textarea's example: ${example}`);
    await block.screenshot({ path: join(ARTIFACTS, "docs-4-reset-confirm.png") });
  });

  await step("Try it out: after the reset (which ended the session), login with the new password", async () => {
    const { status, block } = await tryOut("operations-accounts-login", { email: docsEmail, password: NEW_PASSWORD });
    assert(status === "200", `login answered ${status}: ${await responseBody(block)}`);
  });

  const docsNewEmail = `docs-new-${Date.now()}@example.com`;
  let docsChangeLink;
  await step("Try it out: change email with the password answers 202 and mails the new address", async () => {
    const { status, block, example } = await tryOut("operations-email-request_change",
      { new_email: docsNewEmail, password: NEW_PASSWORD });
    assert(status === "202", `change email answered ${status}: ${await responseBody(block)}`);
    const shape = JSON.parse(example);
    assert("new_email" in shape && "password" in shape, `the textarea's example: ${example}`);
    await block.screenshot({ path: join(ARTIFACTS, "docs-7-change-email.png") });
    docsChangeLink = linkIn(await waitForMail(docsNewEmail, linksTo("confirm-email-change")), "confirm-email-change");
  });

  await step("Try it out: email change confirm with the mailed token answers 200", async () => {
    const { status, block, example } = await tryOut("operations-email-confirm_change", { token: tokenOf(docsChangeLink) });
    assert(status === "200", `change confirm answered ${status}: ${await responseBody(block)}`);
    assert("token" in JSON.parse(example), `the textarea's example: ${example}`);
    const shown = JSON.parse(await responseBody(block));
    assert(shown.user.email === docsNewEmail && shown.user.email_verified === true, JSON.stringify(shown));
    await block.screenshot({ path: join(ARTIFACTS, "docs-8-change-confirm.png") });
  });

  await step("Try it out: the spent change token answers 400 invalid_token; me shows the new address", async () => {
    const again = await tryOut("operations-email-confirm_change", { token: tokenOf(docsChangeLink) });
    assert(again.status === "400", `change confirm again answered ${again.status}`);
    const shown = await responseBody(again.block);
    assert(shown.includes("invalid_token"), shown);
    const me = await tryOut("operations-me-get_me");
    assert(me.status === "200", `me answered ${me.status}`);
    const body = await responseBody(me.block);
    assert(body.includes(docsNewEmail), body);
  });

  // Leaving, then the staff's side: the admin operations need a staff session.
  await step("Try it out: delete my account with the password answers 204; me is then 401", async () => {
    const { status, block, example } = await tryOut("operations-me-delete_me", { password: NEW_PASSWORD });
    assert(status === "204", `delete me answered ${status}: ${await responseBody(block)}`);
    assert("password" in JSON.parse(example), `the textarea's example: ${example}`);
    await block.screenshot({ path: join(ARTIFACTS, "docs-9-delete-me.png") });
    const me = await tryOut("operations-me-get_me");
    assert(me.status === "401", `me answered ${me.status}`);
  });

  await step("Try it out: as staff, list users with a search (the deleted account is gone)", async () => {
    const login = await tryOut("operations-accounts-login", { email: STAFF_EMAIL, password: STAFF_PASSWORD });
    assert(login.status === "200", `staff login answered ${login.status}: ${await responseBody(login.block)}`);
    const block = docs.locator("#operations-admin-list_users");
    await block.locator(".opblock-summary").first().click();
    await block.locator(".try-out__btn").click();
    const search = async (term) => {
      await block.locator('tr[data-param-name="search"] input').fill(term);
      const clear = block.locator("button.btn-clear");
      if (await clear.count() > 0) await clear.click();
      await block.locator("button.execute").click();
      const status = block.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor();
      return { status: (await status.innerText()).trim(), body: JSON.parse(await responseBody(block)) };
    };
    const staff = await search("STAFF-BROWSER");
    assert(staff.status === "200", `list users answered ${staff.status}`);
    assert(staff.body.count === 1 && staff.body.users[0].email === STAFF_EMAIL && staff.body.users[0].is_superuser, JSON.stringify(staff.body));
    const gone = await search(docsNewEmail);
    assert(gone.status === "200" && gone.body.count === 0, JSON.stringify(gone.body));
    await block.screenshot({ path: join(ARTIFACTS, "docs-10-admin-users.png") });
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
