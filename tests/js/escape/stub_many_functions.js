// A child sends 10,000 functions to a parent callback in one call (more
// stubs than one message may carry: a named DataCloneError), then 4,000,
// then 1,000 calls with one each: the parent gets that many stubs, calling
// one runs only that child function, and both sides carry on.
export default {
  async fetch(req, env) {
    let got = 0, first;
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f(cb) {
        let refused; try { await cb(Array.from({ length: 10000 }, () => () => 0)); } catch (e) { refused = e.name + ": " + e.message; }
        await cb(Array.from({ length: 4000 }, (_, i) => () => "child fn " + i));
        for (let i = 0; i < 1000; i++) await cb([() => i]);
        return "10,000 at once: " + refused; } }` } });
    const r = await w.getEntrypoint().f(async (fns) => { got += fns.length; if (!first) first = await fns[3999](); });
    return new Response(r + "\nstubs received: " + got + ", last of the batch says: " + first + "\n");
  },
};
