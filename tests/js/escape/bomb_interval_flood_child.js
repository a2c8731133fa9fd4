// A child starts setInterval(f, 1e9) 100,000 times: the 65,537th pending
// timer is refused with the named RangeError, which the child catches; the
// parent gets the answer, its own timers are unaffected, and nothing of the
// child's keeps `corral run` alive.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { f() { let n = 0; try { for (; n < 1e5; n++) setInterval(() => {}, 1e9); return "all started"; } catch (e) { return n + " started, then " + e.name + ": " + e.message; } } }` } });
    const r = await w.getEntrypoint().f();
    const mine = await new Promise((res) => setTimeout(() => res("parent timer ran"), 1));
    return new Response(r + "\n" + mine + "\n");
  },
};
