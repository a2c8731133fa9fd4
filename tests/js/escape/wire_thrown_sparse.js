// A result getter throws a sparse array of length 2**32-1: the thrown
// value is what the parent would be told, and encoding it is bounded by
// the same size limit, so the parent gets a named error at once instead of
// the host building gigabytes, and the child lives on.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 100 }, modules: {
      "m.js": `export default {
        getterThrows() { return { get x() { const a = []; a.length = 2 ** 32 - 1; throw a; } }; },
        alive() { return "alive"; },
      }` } });
    const out = [];
    for (const m of ["getterThrows", "alive"]) {
      const e = w.getEntrypoint();
      try { const v = await e[m](() => 1); out.push(m + ": " + (Array.isArray(v) ? "array " + v.length : v)); } catch (err) { out.push(m + ": " + err.name + ": " + String(err.message).slice(0, 200)); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
