// dolbom app: registers the service worker and, on request, a Web Push subscription.
// No inline script anywhere (the CSP forbids it); the CSRF token is read from a form on the page.
"use strict";
(function () {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
  var button = document.getElementById("push-enable");
  if (!button || !("PushManager" in window)) return;
  button.hidden = false;
  var say = function (text) { document.getElementById("push-msg").textContent = text; };
  var fromB64 = function (s) {
    var pad = "=".repeat((4 - (s.length % 4)) % 4);
    var raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  };
  button.addEventListener("click", function () {
    var csrf = document.querySelector("input[name=csrf]");
    fetch("/app/push/key", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("key"); return r.json(); })
      .then(function (k) {
        return navigator.serviceWorker.ready.then(function (reg) {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64(k.public_key) });
        });
      })
      .then(function (sub) {
        return fetch("/app/push/subscribe", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.value : "" },
          body: JSON.stringify(sub.toJSON()),
        });
      })
      .then(function (r) { if (!r.ok) throw new Error("subscribe"); say(button.dataset.ok); })
      .catch(function () { say(button.dataset.fail); });
  });
})();
