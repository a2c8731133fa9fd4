// A sparse array of length 2**32-1 costs a child nothing to build; as a
// result, an argument or a structuredClone input it is refused at once
// with the size limit's named error (each element needs at least a byte),
// in every isolation mode, rather than walked element by element in C
// past the CPU limit.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 100 }, modules: {
      "m.js": `export default {
        sparse() { const a = []; a.length = 2 ** 32 - 1; return a; },
        sparseClone() { const a = []; a.length = 2 ** 32 - 1; try { structuredClone(a); return "cloned"; } catch (e) { return e.name + ": " + e.message; } },
        async sparseArg(cb) { const a = []; a.length = 2 ** 32 - 1; try { await cb(a); return "sent"; } catch (e) { return e.name + ": " + e.message; } },
        alive() { return "alive"; },
      }` } });
    const out = [];
    for (const m of ["sparse", "sparseClone", "sparseArg", "alive"]) {
      const e = w.getEntrypoint();
      try { const v = await e[m](() => 1); out.push(m + ": " + (Array.isArray(v) ? "array " + v.length : v)); } catch (err) { out.push(m + ": " + err.name + ": " + err.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
