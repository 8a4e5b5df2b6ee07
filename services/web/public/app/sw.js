// Service worker of the app (installable PWA): the app shell is served from
// the network when it can be and from the cache when offline or when the
// network answers an error; calls to /api/ are never cached (personal data
// stays out of the cache).
const CACHE = "lifelong-app-v3";
const SHELL = ["/app/", "/app/app.js", "/app/app.css", "/app/manifest.webmanifest", "/app/icon.svg",
               "/shared/api.js", "/shared/format.js", "/shared/idle.js", "/shared/path.js", "/shared/fonts.css"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (!SHELL.includes(url.pathname)) return;
  // Only a good answer replaces the cached copy: a balancer's 503 or a 404
  // while the gateways restart must not become the app that opens offline
  // (and while the network answers so, the cached shell is served instead).
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok && res.type === "basic") {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
      return res;
    }
    return caches.match(e.request).then((cached) => cached || res);
  }, () => caches.match(e.request).then((cached) => cached || Response.error())));
});
