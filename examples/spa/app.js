// A single-page app on another origin than the API: cookie sessions with
// CSRF, as a browser client of the accounts API should do it.
//
// The API origin comes from ?api=... (default http://127.0.0.1:8000); that
// API must list this page's origin in CORS_ALLOWED_ORIGINS.
//
// The pages that mail links open (and "Forgot password?") are chosen by
// ?page=NAME, or by a path ending in /NAME where the server sends index.html
// for it; a link's ?token=... is read once and leaves the address bar. For
// links that keep the API base, set the API's PASSWORD_RESET_URL,
// EMAIL_VERIFY_URL and EMAIL_CHANGE_URL to this page with ?api=...&page=...,
// e.g. http://127.0.0.1:5173/?api=http%3A%2F%2F127.0.0.1%3A8000&page=reset-password&token={token}
"use strict";

const API = new URLSearchParams(location.search).get("api") || "http://127.0.0.1:8000";
const PAGES = ["forgot-password", "reset-password", "verify-email", "confirm-email-change"];
let csrfToken = null;
let resetToken = null;
// The first login step's mfa_token, while the second step is on screen.
let mfaToken = null;

const $ = (id) => document.getElementById(id);
$("api-base").textContent = API;

function show(kind, text, fieldErrors) {
  const box = $("message");
  box.className = kind;
  box.textContent = text;
  if (fieldErrors) {
    const list = document.createElement("ul");
    for (const [field, messages] of Object.entries(fieldErrors)) {
      for (const message of messages) {
        const item = document.createElement("li");
        item.textContent = `${field}: ${message}`;
        list.appendChild(item);
      }
    }
    box.appendChild(list);
  }
  box.hidden = false;
}

// The CSRF token comes from the JSON body: a page on another origin cannot
// read the API's csrftoken cookie, but the browser sends it back.
async function ensureCsrf() {
  if (!csrfToken) {
    const response = await fetch(`${API}/accounts/csrf`, { credentials: "include" });
    csrfToken = (await response.json()).csrf_token;
  }
  return csrfToken;
}

// Every call: credentials included, the CSRF header on unsafe methods, and
// problem+json errors turned into a message (with field errors, if any).
async function api(method, path, body) {
  const headers = {};
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRFToken"] = await ensureCsrf();
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, { method, headers, body: payload, credentials: "include" });
  } catch (error) {
    throw { detail: `The API at ${API} cannot be reached.`, code: "network_error" };
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (data.code === "csrf_failed") csrfToken = null;
    if (response.status === 429) {
      data.detail = `${data.detail} (retry after ${response.headers.get("Retry-After")} s)`;
    }
    throw data;
  }
  return data;
}

function failed(problem) {
  const text = problem.detail || "Something went wrong.";
  show("error", problem.code ? `${text} [${problem.code}]` : text, problem.errors);
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// ---- Pages -------------------------------------------------------------

function currentPage() {
  const named = new URLSearchParams(location.search).get("page");
  const last = location.pathname.split("/").pop();
  return PAGES.includes(named) ? named : PAGES.includes(last) ? last : null;
}

// This app's address for a page (null: the home page), keeping ?api=.
function pageUrl(page) {
  const url = new URL(location.href);
  if (PAGES.includes(url.pathname.split("/").pop())) url.pathname = url.pathname.replace(/[^/]*$/, "");
  url.search = "";
  url.hash = "";
  if (new URLSearchParams(location.search).has("api")) url.searchParams.set("api", API);
  if (page) url.searchParams.set("page", page);
  return url.href;
}

function showView(id) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== id;
}

async function go(page) {
  history.pushState(null, "", pageUrl(page));
  $("message").hidden = true;
  await route();
}

async function route() {
  const page = currentPage();
  const token = new URLSearchParams(location.search).get("token");
  // Out of the address bar and the history: the token works once.
  if (token !== null) history.replaceState(null, "", pageUrl(page));
  if (page === "forgot-password") {
    showView("forgot");
  } else if (page === "reset-password") {
    resetToken = token;
    showView("reset");
    if (!token) show("error", "This link has no token: ask for a new one under \"Forgot password?\".");
  } else if (page === "verify-email") {
    await useToken("verify", "/accounts/email/verify", token, (user) => `Your email address ${user.email} is verified.`);
  } else if (page === "confirm-email-change") {
    await useToken("confirm-change", "/accounts/email/change/confirm", token, (user) => `Your email address is now ${user.email}.`);
  } else {
    await refresh();
  }
}

// The verification and email-change links: no form, the token is posted
// as soon as the page opens (no session needed).
async function useToken(view, path, token, done) {
  showView(view);
  const status = $(`${view}-status`);
  status.textContent = "Checking the link…";
  try {
    if (!token) throw { detail: "This link has no token: ask for a new one." };
    const { user } = await api("POST", path, { token });
    status.textContent = done(user);
  } catch (problem) {
    status.textContent = "This link cannot be used.";
    failed(problem);
  }
}

for (const link of document.querySelectorAll("a[data-page]")) {
  link.href = pageUrl(link.dataset.page || null);
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(link.dataset.page || null);
  });
}
window.addEventListener("popstate", () => {
  $("message").hidden = true;
  route();
});

async function refresh() {
  let me;
  try {
    me = (await api("GET", "/accounts/me")).user;
  } catch (problem) {
    // Whoever uses this tab next must not see the last user's secrets.
    forgetMfaSecrets();
    showView("anonymous");
    if (problem.code !== "not_authenticated") failed(problem);
    return;
  }
  showView("authenticated");
  $("me-email").textContent = me.email;
  $("me-verified").textContent = me.email_verified ? "Yes" : "No";
  $("resend-verification").hidden = me.email_verified;
  $("me-username").textContent = me.username || "—";
  $("me-joined").textContent = new Date(me.date_joined).toLocaleString();
  const { profile } = await api("GET", "/accounts/me/profile");
  const form = $("profile-form");
  form.portfolio_site.value = profile.portfolio_site;
  form.bio.value = profile.bio;
  showPicture(profile.profile_pic);
  await showMfa();
  await listSessions();
}

function showPicture(path) {
  const img = $("picture");
  img.hidden = !path;
  if (path) img.src = `${API}${path}`;
  else img.removeAttribute("src");
}

async function listSessions() {
  const { sessions } = await api("GET", "/accounts/sessions");
  const body = $("sessions");
  body.replaceChildren();
  for (const session of sessions) {
    const row = document.createElement("tr");
    row.className = session.current ? "current" : "";
    for (const text of [session.client, new Date(session.created_at).toLocaleString(), new Date(session.last_seen_at).toLocaleString()]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.textContent = session.current ? "Log out" : "Revoke";
    button.dataset.session = session.id;
    button.addEventListener("click", async () => {
      try {
        await api("DELETE", `/accounts/sessions/${session.id}`);
        show("info", session.current ? "This session has ended." : "Session revoked.");
        await refresh();
      } catch (problem) { failed(problem); }
    });
    action.appendChild(button);
    row.appendChild(action);
    body.appendChild(row);
  }
}

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = formData(event.target);
  if (!fields.username) delete fields.username;
  try {
    await api("POST", "/accounts/register", fields);
    show("info", "Welcome! Your account is ready.");
    event.target.reset();
    await refresh();
  } catch (problem) { failed(problem); }
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = formData(event.target);
  // Unchecked, the session ends with the browser; checked, it lasts two
  // weeks in a persistent cookie.
  fields.remember = fields.remember === "true";
  try {
    await api("POST", "/accounts/login", fields);
    show("info", "Logged in.");
    event.target.reset();
    await refresh();
  } catch (problem) {
    if (problem.code === "mfa_required") {
      // The password was right; the session comes with the second step.
      mfaToken = problem.mfa_token;
      event.target.reset();
      showView("mfa-step");
      $("message").hidden = true;
      $("mfa-login-form").code.focus();
      return;
    }
    failed(problem);
  }
});

$("mfa-login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/accounts/login/mfa", { mfa_token: mfaToken || "", code: event.target.code.value });
    mfaToken = null;
    show("info", "Logged in.");
    event.target.reset();
    await refresh();
  } catch (problem) {
    failed(problem);
    // The token is spent or dead: back to the password.
    if (problem.code === "invalid_token") showView("anonymous");
  }
});

// ---- Two-factor settings -------------------------------------------------

async function showMfa() {
  const status = await api("GET", "/accounts/mfa");
  $("mfa-status").textContent = status.totp_enabled
    ? `On. Recovery codes left: ${status.recovery_codes_remaining}.`
    : "Off: logging in needs only your password.";
  $("mfa-setup").hidden = status.totp_enabled;
  $("mfa-off-form").hidden = !status.totp_enabled;
  $("mfa-regen-form").hidden = !status.totp_enabled;
  if (status.totp_enabled) $("mfa-enrol").hidden = true;
}

// The key, its QR code and recovery codes are shown once; nothing of them
// stays in the page after logout or for another user.
function forgetMfaSecrets() {
  $("mfa-code-list").replaceChildren();
  $("mfa-codes").hidden = true;
  $("mfa-secret").textContent = "";
  $("mfa-qr").replaceChildren();
  delete $("mfa-qr").dataset.otpauthUrl;
  $("mfa-enrol").hidden = true;
}

function showRecoveryCodes(codes) {
  const list = $("mfa-code-list");
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  }));
  $("mfa-codes").hidden = false;
}

// Re-authentication: exactly one answer, the password or a code.
$("reauth-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { password, code } = formData(event.target);
  const body = code ? { code } : { password };
  try {
    const { reauthenticated_until } = await api("POST", "/accounts/reauthenticate", body);
    event.target.reset();
    const until = new Date(reauthenticated_until).toLocaleTimeString();
    $("reauth-status").textContent = `Confirmed until ${until}.`;
    show("info", "Confirmed: you can change how you log in for a few minutes.");
  } catch (problem) { failed(problem); }
});

$("mfa-setup").addEventListener("click", async () => {
  try {
    const { secret, otpauth_url } = await api("POST", "/accounts/mfa/totp/setup");
    // The QR code is drawn here, from the vendored qrcode-generator: the
    // secret never goes to a third-party service.
    const qr = qrcode(0, "M");
    qr.addData(otpauth_url);
    qr.make();
    $("mfa-qr").innerHTML = qr.createSvgTag({ cellSize: 4, margin: 4, scalable: false });
    $("mfa-qr").dataset.otpauthUrl = otpauth_url;
    $("mfa-secret").textContent = secret;
    $("mfa-codes").hidden = true;
    $("mfa-enrol").hidden = false;
  } catch (problem) { failed(problem); }
});

$("mfa-confirm-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { recovery_codes } = await api("POST", "/accounts/mfa/totp/confirm", formData(event.target));
    event.target.reset();
    $("mfa-enrol").hidden = true;
    $("mfa-qr").replaceChildren();
    show("info", "Two-factor login is on.");
    showRecoveryCodes(recovery_codes);
    await showMfa();
  } catch (problem) { failed(problem); }
});

$("mfa-regen-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { recovery_codes } = await api("POST", "/accounts/mfa/recovery-codes", formData(event.target));
    event.target.reset();
    show("info", "New recovery codes: the old ones no longer work.");
    showRecoveryCodes(recovery_codes);
    await showMfa();
  } catch (problem) { failed(problem); }
});

$("mfa-off-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("DELETE", "/accounts/mfa/totp", formData(event.target));
    event.target.reset();
    $("mfa-codes").hidden = true;
    show("info", "Two-factor login is off.");
    await showMfa();
  } catch (problem) { failed(problem); }
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/accounts/logout");
    forgetMfaSecrets();
    show("info", "Logged out.");
    await refresh();
  } catch (problem) { failed(problem); }
});

$("resend-verification").addEventListener("click", async () => {
  try {
    const { detail } = await api("POST", "/accounts/email/verification");
    show("info", detail);
  } catch (problem) {
    failed(problem);
    if (problem.code === "email_already_verified") await refresh();
  }
});

$("email-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { detail } = await api("POST", "/accounts/email/change", formData(event.target));
    show("info", detail);
    event.target.reset();
  } catch (problem) { failed(problem); }
});

$("forgot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { detail } = await api("POST", "/accounts/password/reset", formData(event.target));
    show("info", detail);
    event.target.reset();
  } catch (problem) { failed(problem); }
});

$("reset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { new_password } = formData(event.target);
    await api("POST", "/accounts/password/reset/confirm", { token: resetToken || "", new_password });
    resetToken = null;
    event.target.reset();
    await go(null);
    show("info", "Your password has been changed and every session has ended. Log in with the new password.");
  } catch (problem) { failed(problem); }
});

$("profile-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("PATCH", "/accounts/me/profile", formData(event.target));
    show("info", "Profile saved.");
  } catch (problem) { failed(problem); }
});

$("picture-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { profile } = await api("PUT", "/accounts/me/profile/picture", new FormData(event.target));
    showPicture(profile.profile_pic);
    show("info", "Picture uploaded.");
    event.target.reset();
  } catch (problem) { failed(problem); }
});

$("remove-picture").addEventListener("click", async () => {
  try {
    await api("DELETE", "/accounts/me/profile/picture");
    showPicture(null);
    show("info", "Picture removed.");
  } catch (problem) { failed(problem); }
});

route();
