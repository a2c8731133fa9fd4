// Timers and pending work of one child cannot reach another child: A's
// interval mutates A's globals only, and B's view stays the same after A
// has been ticking.
export default {
  async fetch(req, env) {
    const code = { compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `globalThis.ticks = 0; export default { start() { setInterval(() => { globalThis.ticks++; Object.prototype.t = ticks; }, 1); return "started"; },
        async read() { await new Promise((r) => setTimeout(r, 20)); return (ticks > 0 ? "ticking" : "still") + " " + (({}).t === undefined ? "clean" : "touched"); } }` } };
    const a = env.LOADER.load(code).getEntrypoint(), b = env.LOADER.load(code).getEntrypoint();
    const out = ["A: " + await a.start(), "A reads: " + await a.read(), "B reads: " + await b.read(), "parent: " + (({}).t === undefined ? "clean" : "touched")];
    return new Response(out.join("\n") + "\n");
  },
};
