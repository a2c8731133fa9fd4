/* corral web globals: the installer, evaluated after the parts in js/web/.
 *
 * The engine evaluates, as classic scripts and in this order,
 *   js/web/base.js, js/web/events.js, js/web/encoding.js, js/web/console.js,
 *   js/web/url.js, js/web/fetch.js, js/web.js
 * each of which only pushes a function onto globalThis.__corralWebParts (this
 * file defines __corralInstallWeb). The engine then calls
 * __corralInstallWeb(native) once and deletes it. Running the parts here, not
 * at evaluation, keeps `native` (the C capabilities) inside closures: the
 * registry is removed before any user code runs, and `lib`, the object the
 * parts share, is never stored anywhere user code can reach. */
globalThis.__corralInstallWeb = function (native) {
  'use strict';
  const parts = globalThis.__corralWebParts || [];
  delete globalThis.__corralWebParts;
  const lib = { __proto__: null };
  for (let i = 0; i < parts.length; i++) parts[i](native, lib, globalThis);
};
