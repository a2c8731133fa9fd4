// Fifty children loaded and called at once, each changing its globals and
// built-ins: every one answers from its own fresh sandbox.
export default {
  async fetch(req, env) {
    const code = { compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: { "m.js": "export default { f(i) { Object.prototype.x = (Object.prototype.x || 0) + 1; globalThis.n = (globalThis.n || 0) + 1; return i + ':' + ({}).x + ':' + n; } };" } };
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => env.LOADER.load(code).getEntrypoint().f(i)));
    return new Response("all fresh: " + rs.every((r, i) => r === i + ":1:1") + ", parent clean: " + (({}).x === undefined) + "\n");
  },
};
