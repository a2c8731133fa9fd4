// A child with a 16 MiB heap makes a million pending promises: the call
// ends with MemoryLimitError, reported to the parent, which goes on; the
// next call gets a fresh sandbox (its module state starts again).
const lim = (err) => err.name + (new RegExp("^The worker (exceeded its (CPU time|memory) limit of \\d+ (ms|bytes)|was discarded after it exceeded a limit \\(" + err.name + "\\))\\.$").test(err.message) ? " (limit message)" : ": " + err.message);
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 5000, memoryMb: 16 }, modules: {
      "m.js": `let n = 0; export default {
        async many() { n++; const ps = []; for (let i = 0; i < 1e6; i++) ps.push(new Promise(() => {})); await Promise.all(ps); },
        count() { return ++n; },
      }` } });
    const out = [];
    for (const m of ["many", "count"]) {
      try { out.push(m + ": " + await w.getEntrypoint()[m]()); } catch (e) { out.push(m + ": " + lim(e)); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
