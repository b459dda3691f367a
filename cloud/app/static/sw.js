// dolbom service worker: caches the app shell only (never a senior's data), shows Web Push alerts.
"use strict";
var SHELL = "dolbom-shell-v4";
var FILES = ["/app/static/app.css", "/app/static/app.js", "/app/static/htmx.min.js", "/app/static/htmx-ext-sse.min.js", "/app/static/icon.svg",
  "/app/static/icon-192.png", "/app/static/icon-512.png", "/app/manifest.webmanifest"];
self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(FILES); }).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (e) {
  var url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin || FILES.indexOf(url.pathname) < 0) return;
  e.respondWith(caches.match(e.request).then(function (hit) { return hit || fetch(e.request); }));
});
self.addEventListener("push", function (e) {
  var data = {};
  try { data = e.data ? e.data.json() : {}; } catch (err) { data = {}; }
  var title = data.title || "dolbom";
  e.waitUntil(self.registration.showNotification(title, {
    body: data.body || "", tag: data.tag || "dolbom", requireInteraction: true,
    icon: "/app/static/icon-192.png", data: { url: data.url || "/app/" },
  }));
});
self.addEventListener("notificationclick", function (e) {
  e.notification.close();
  var target = (e.notification.data && e.notification.data.url) || "/app/";
  if (target.indexOf("/app/") !== 0) target = "/app/";
  e.waitUntil(self.clients.openWindow(target));
});
