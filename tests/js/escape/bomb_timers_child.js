// A child floods timers and intervals, then returns: the parent gets the
// answer at once, and the child's timers never run in the parent or
// change its state.
let parentTicks = 0;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `let ticks = 0; export default {
        flood(cb) { for (let i = 0; i < 20000; i++) setInterval(() => { ticks++; }, 0); for (let i = 0; i < 20000; i++) setTimeout(() => {}, 1e9); return "flooded"; },
        count() { return ticks > 0 ? "ticking" : "not ticking"; },
      }` } });
    const e = w.getEntrypoint();
    const out = [await e.flood(() => { parentTicks++; })];
    await new Promise((r) => setTimeout(r, 10));
    out.push("parent ticks: " + parentTicks);
    return new Response(out.join("\n") + "\n");
  },
};
