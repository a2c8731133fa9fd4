// A child replaces Array.prototype.push, which the runtime's Map and Set
// readers are built from, so that a Map yields an odd number of entry
// values or a list of length 2**32-1: the value is refused with a named
// DataCloneError or the size limit, the same in every isolation mode, and
// no malformed message reaches the host (a jailed worker is not ended).
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 100 }, modules: {
      "m.js": `const realPush = Array.prototype.push;
      export default {
        odd() { Array.prototype.push = function (...a) { for (const x of a) this[this.length] = x; this[this.length] = "extra"; return this.length; }; return new Map([["k", "v"]]); },
        huge() { Array.prototype.push = function () { this.length = 2 ** 32 - 1; return 0; }; return new Set([1]); },
        hugeMap() { Array.prototype.push = function () { this.length = 2 ** 32 - 2; return 0; }; return new Map([[1, 2]]); },
        alive() { return "alive"; },
      }` } });
    const out = [];
    for (const m of ["odd", "huge", "hugeMap", "alive"]) {
      const e = w.getEntrypoint();
      try { const v = await e[m](); out.push(m + ": " + Object.prototype.toString.call(v) + " size " + v.size); } catch (err) { out.push(m + ": " + err.name + ": " + err.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
