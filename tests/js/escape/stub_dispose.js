// A child disposes a parent callback (twice), then calls it, reads from it
// and passes it on: each use after release is the named disposed error,
// the second dispose is harmless, and the parent function never runs.
let calls = 0;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `const D = typeof Symbol.dispose === "symbol" ? Symbol.dispose : Symbol.for("Symbol.dispose");
      export default { async f(cb) {
        const out = [];
        out.push("before: " + await cb(1));
        out.push("dispose is a function: " + (typeof cb[D]));
        out.push("first dispose: " + cb[D]());
        out.push("second dispose: " + cb[D]());
        for (const [label, fn] of [["call", () => cb(2)], ["method", () => cb.anything(3)], ["apply", () => Reflect.apply(cb, null, [4])],
          ["Function.prototype.call", () => Function.prototype.call.call(cb, null, 5)]]) {
          try { out.push(label + ": returned " + await fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
        }
        return out.join("\\n");
      } }` } });
    const r = await w.getEntrypoint().f((x) => { calls++; return "parent saw " + x; });
    return new Response(r + "\nparent calls: " + calls + "\n");
  },
};
