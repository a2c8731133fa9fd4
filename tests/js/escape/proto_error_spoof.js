// A child throws values dressed up as corral's limit errors and as errors
// with hostile prototypes: the parent sees ordinary errors with the child's
// text, never a real limit, and its Error prototypes are unchanged.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `class CpuLimitError extends Error { get name() { return "CpuLimitError"; } }
      export default {
        a() { throw new CpuLimitError("The worker exceeded its CPU time limit of 1 ms."); },
        b() { const e = new Error("x"); e.name = "MemoryLimitError"; throw e; },
        c() { throw { name: "CpuLimitError", message: "plain object", __proto__: { polluted: 1 } }; },
        d() { const e = new TypeError("with proto"); Object.setPrototypeOf(e, { polluted: 1, name: "Evil" }); throw e; },
        e() { Error.prototype.polluted = 1; throw new RangeError("after child mutated Error.prototype"); },
        alive() { return "alive"; },
      }` } });
    const e = w.getEntrypoint();
    const out = [];
    for (const m of ["a", "b", "c", "d", "e", "alive"]) {
      try { out.push(m + ": returned " + await e[m]()); }
      catch (err) { out.push(m + ": " + Object.prototype.toString.call(err) + " " + (err instanceof Error) + " name=" + err.name + " message=" + err.message + " polluted=" + err.polluted); }
    }
    out.push("Error.prototype.polluted=" + Error.prototype.polluted + " Object.prototype.polluted=" + Object.prototype.polluted);
    return new Response(out.join("\n") + "\n");
  },
};
