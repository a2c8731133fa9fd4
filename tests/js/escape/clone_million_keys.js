// args: --memory-mb 400
// A child answers with an object of a million keys of 40 characters (over
// the 32 MiB result limit) and passes one as a callback argument: both are
// refused with the named size errors, and the parent carries on.
export default {
  async fetch(req, env) {
    let called = 0;
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `const big = () => { const o = {}; const pad = "k".repeat(32); for (let i = 0; i < 1e6; i++) o[pad + (1e7 + i)] = 1; return o; };
      export default { result() { return big(); }, async arg(cb) { try { await cb(big()); return "sent"; } catch (e) { return e.name + ": " + e.message; } }, alive() { return "alive"; } }` } });
    const e = w.getEntrypoint();
    const out = [];
    try { out.push("result: " + Object.keys(await e.result()).length); } catch (err) { out.push("result: " + err.name + ": " + err.message); }
    try { out.push("argument: " + await e.arg(() => { called++; })); } catch (err) { out.push("argument: " + err.name + ": " + err.message); }
    try { out.push("after: " + await e.alive()); } catch (err) { out.push("after: " + err.name + ": " + err.message); }
    out.push("callback ran: " + called);
    return new Response(out.join("\n") + "\n");
  },
};
