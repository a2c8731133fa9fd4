function mine(x) { return "mine " + x; }
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { back(cb) { return cb; }, nested(cb) { return { cb }; } }` } });
    const e = w.getEntrypoint();
    const out = [];
    try { const b = await e.back(mine); out.push("back: " + typeof b); out.push("call: " + await b("x")); } catch (err) { out.push("caught " + err.name + ": " + err.message); }
    try { const b = await e.nested(mine); out.push("nested: " + typeof b.cb); } catch (err) { out.push("caught " + err.name + ": " + err.message); }
    out.push("still running");
    return new Response(out.join("\n") + "\n");
  },
};
