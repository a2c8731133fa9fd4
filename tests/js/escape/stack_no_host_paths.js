// Stack traces, error messages and import.meta seen by a child and by the
// top-level worker name modules by their module-map names only, never by
// a host path (the test file's absolute location does not appear).
// Only frames that name a file are shown: the runtime's own frames are an
// implementation detail, but they must not name a file either.
const show = (s) => String(s).split("\n").filter((l) => /\(/.test(l) && !/\(native\)/.test(l)).map((l) => l.trim().replace(/:\d+(:\d+)?/g, ":N")).join(" | ");
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `import { g } from "./sub/lib.js";
        export default { f() {
          let thrown; try { g(); } catch (e) { thrown = e; }
          return { stack: thrown.stack, meta: JSON.stringify(Object.keys(import.meta)), url: String(import.meta.url), sub: String(thrown.fileName) };
        } }`,
      "sub/lib.js": "export function g() { null.x; }",
    } });
    const r = await w.getEntrypoint().f();
    const mine = new Error("here").stack;
    const hostPath = /\/work|\/home|\/tmp|\/usr|tests\/js/.test(r.stack + r.url + mine + import.meta.url);
    return new Response(["child stack: " + show(r.stack).trim(), "child import.meta keys: " + r.meta,
      "child import.meta.url: " + r.url, "parent stack: " + show(mine).trim(),
      "parent import.meta.url: " + import.meta.url, "host path seen: " + hostPath].join("\n") + "\n");
  },
};
