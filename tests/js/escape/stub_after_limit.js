// A child that hits its CPU limit is discarded: the parent's call rejects
// with the uncatchable-in-the-child CpuLimitError, an entrypoint stub taken
// before still answers (from a fresh sandbox, with fresh module state), and
// a parent callback the dead child had kept is not called again.
let cbCalls = 0;
// A child's limit error as the parent sees it: its name, and whether the
// message is one of the two corral wordings (the limit with its value, or
// "discarded after it exceeded a limit (Name)").
const lim = (err) => err.name + (new RegExp("^The worker (exceeded its (CPU time|memory) limit of \\d+ (ms|bytes)|was discarded after it exceeded a limit \\(" + err.name + "\\))\\.$").test(err.message) ? " (limit message)" : ": " + err.message);
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 50 }, modules: {
      "m.js": `let n = 0, kept = null;
      export default { count() { return ++n; }, keep(cb) { kept = cb; return "kept"; }, spin() { for (;;) {} },
        useKept() { return kept ? kept("again") : "nothing kept"; } }` } });
    const e = w.getEntrypoint();
    const out = [];
    out.push("count: " + await e.count() + " " + await e.count());
    out.push("keep: " + await e.keep((x) => { cbCalls++; return x; }));
    try { await e.spin(); out.push("spin returned"); } catch (err) { out.push("spin: " + lim(err)); }
    for (const m of ["count", "useKept"]) {
      try { out.push(m + " after: " + await e[m]()); } catch (err) { out.push(m + " after: " + err.name + ": " + err.message); }
    }
    out.push("parent callback calls: " + cbCalls);
    return new Response(out.join("\n") + "\n");
  },
};
