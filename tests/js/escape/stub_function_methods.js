// On a parent callback, call/apply/bind/then/constructor/__proto__ are not
// the child's Function.prototype methods (the stub has a null prototype):
// reading them gives stubs for remote methods the parent does not have, so
// calling them rejects without running any parent code.
let calls = 0;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f(cb) {
        const out = [];
        for (const k of ["call", "apply", "bind", "then", "constructor", "__proto__", "prototype", "caller", "arguments", "name", "length"])
          out.push(k + ": " + typeof cb[k]);
        for (const [label, fn] of [["cb.call(null, 1)", () => cb.call(null, 1)], ["cb.apply(null, [1])", () => cb.apply(null, [1])],
          ["cb.bind(null)", () => cb.bind(null)], ["cb.constructor('return 1')", () => cb.constructor("return 1")],
          ["await cb", async () => typeof (await cb)], ["new cb()", () => new cb()]]) {
          try { out.push(label + ": returned " + await fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
        }
        out.push("Function.prototype.apply works: " + await Function.prototype.apply.call(cb, null, ["direct"]));
        return out.join("\\n");
      } }` } });
    const r = await w.getEntrypoint().f((x) => { calls++; return "ran with " + x; });
    return new Response(r + "\nparent calls: " + calls + "\n");
  },
};
