"use strict";
// The login form: POST /api/login, then on to the app.
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  let res;
  try {
    res = await fetch("/api/login", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body), credentials: "same-origin",
    });
  } catch (e) {
    error.textContent = "The admin UI does not answer.";
    error.hidden = false;
    return;
  }
  if (res.ok) {
    window.location.href = "/";
    return;
  }
  const doc = await res.json().catch(() => ({error: res.statusText}));
  error.textContent = doc.error || res.statusText;
  error.hidden = false;
});
