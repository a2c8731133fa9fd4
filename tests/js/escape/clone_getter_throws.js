// Getters run while a child's result is cloned: a throwing getter rejects
// the parent's call with the child's error; a getter that replaces the
// prototypes or defines more getters changes nothing in the parent.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default {
        throws() { return { a: 1, get b() { throw new TypeError("getter boom"); } }; },
        mutates() { const o = { get x() { Object.prototype.polluted = 1; delete this.y; return 1; }, y: 2 }; return o; },
        grows() { const o = {}; let n = 0; Object.defineProperty(o, "g", { enumerable: true, get() { o["k" + n++] = n; return n; } }); return o; },
        stack() { const o = { get deep() { const f = () => f(); return f(); } }; return o; },
        alive() { return "alive"; },
      }` } });
    const e = w.getEntrypoint();
    const out = [];
    for (const m of ["throws", "mutates", "grows", "stack", "alive"]) {
      try { out.push(m + ": " + JSON.stringify(await e[m]())); } catch (err) { out.push(m + ": " + err.name + ": " + err.message); }
    }
    out.push("parent ({}).polluted=" + ({}).polluted);
    return new Response(out.join("\n") + "\n");
  },
};
