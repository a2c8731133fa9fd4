// A child answers with values nested deeper than the wire format allows
// (arrays, objects, Maps, an error's cause chain) and recurses without end
// inside a getter read during the clone: each is a named error in the
// parent, whose stack and state are untouched.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `const deep = (mk) => { let v = 0; for (let i = 0; i < 100000; i++) v = mk(v); return v; };
      export default {
        arrays() { return deep((v) => [v]); },
        objects() { return deep((v) => ({ v })); },
        maps() { return deep((v) => new Map([[1, v]])); },
        causes() { return deep((v) => new Error("e", { cause: v })); },
        recursiveGetter() { const o = { get x() { return o.x; } }; return o; },
        alive() { return "alive"; },
      }` } });
    const out = [];
    for (const m of ["arrays", "objects", "maps", "causes", "recursiveGetter", "alive"]) {
      try { out.push(m + ": " + JSON.stringify(await w.getEntrypoint()[m]())); } catch (e) { out.push(m + ": " + e.name + ": " + e.message.slice(0, 70)); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
