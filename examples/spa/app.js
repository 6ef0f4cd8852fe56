// A single-page app on another origin than the API: cookie sessions with
// CSRF, as a browser client of the accounts API should do it.
//
// The API origin comes from ?api=... (default http://127.0.0.1:8000); that
// API must list this page's origin in CORS_ALLOWED_ORIGINS.
"use strict";

const API = new URLSearchParams(location.search).get("api") || "http://127.0.0.1:8000";
let csrfToken = null;

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

async function refresh() {
  let me;
  try {
    me = (await api("GET", "/accounts/me")).user;
  } catch (problem) {
    $("anonymous").hidden = false;
    $("authenticated").hidden = true;
    if (problem.code !== "not_authenticated") failed(problem);
    return;
  }
  $("anonymous").hidden = true;
  $("authenticated").hidden = false;
  $("me-email").textContent = me.email;
  $("me-username").textContent = me.username || "—";
  $("me-joined").textContent = new Date(me.date_joined).toLocaleString();
  const { profile } = await api("GET", "/accounts/me/profile");
  const form = $("profile-form");
  form.portfolio_site.value = profile.portfolio_site;
  form.bio.value = profile.bio;
  showPicture(profile.profile_pic);
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
  } catch (problem) { failed(problem); }
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/accounts/logout");
    show("info", "Logged out.");
    await refresh();
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

refresh();
