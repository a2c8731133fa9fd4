// Arguments and results carrying conversion traps — Symbol.toPrimitive,
// toJSON, valueOf, toString, Symbol.iterator, getters, symbol-keyed
// properties — cross as plain data: the traps run in the child that built
// them (or not at all), never in the parent, and symbol keys are dropped.
export default {
  async fetch(req, env) {
    const got = [];
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `globalThis.ran = [];
      const trap = (name) => function () { ran.push(name); return name; };
      const hostile = () => ({ [Symbol.toPrimitive]: trap("toPrimitive"), toJSON: trap("toJSON"), valueOf: trap("valueOf"), toString: trap("toString"),
        [Symbol.iterator]: trap("iterator"), get g() { ran.push("getter"); return "g"; }, [Symbol("secret")]: "sym", plain: 1 });
      export default {
        async f(cb) { await cb(hostile(), [hostile()]); return "ran in child: " + ran.join(","); },
        r() { ran.length = 0; return hostile(); },
        ran() { return ran.join(","); },
      }` } });
    const e = w.getEntrypoint();
    const f = await e.f((a, b) => { got.push("arg keys: " + Object.keys(a).join(","), "symbols: " + Object.getOwnPropertySymbols(a).length, "types: " + Object.keys(a).map((k) => typeof a[k]).join(","), "in array: " + Object.keys(b[0]).join(",")); return null; });
    const r = await e.r();
    got.push(f, "result keys: " + Object.keys(r).join(",") + " symbols: " + Object.getOwnPropertySymbols(r).length + " g: " + r.g, "ran in child for the result: " + await e.ran());
    return new Response(got.join("\n") + "\n");
  },
};
