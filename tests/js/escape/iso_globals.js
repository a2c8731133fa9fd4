// Two children loaded from the same code share nothing: globals, built-in
// prototypes and module state changed in one are unchanged in the other
// and in the parent.
export default {
  async fetch(req, env) {
    const code = { compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `let n = 0; export default {
        taint() { globalThis.SECRET = "from A"; Object.prototype.leak = "A"; Array.prototype.push = () => "hijacked";
          JSON.stringify = () => "hijacked"; Math.random = () => 4; Symbol.for("shared").description; ++n; return "tainted"; },
        look() { return [typeof SECRET, ({}).leak, [].push.name, JSON.stringify({ a: 1 }), Math.random === Math.random && Math.random() === 4, n].map(String).join(" "); },
      }` } };
    const a = env.LOADER.load(code).getEntrypoint(), b = env.LOADER.load(code).getEntrypoint();
    const out = ["A: " + await a.taint(), "A sees: " + await a.look(), "B sees: " + await b.look()];
    out.push("parent sees: " + [typeof SECRET, ({}).leak, [].push.name, JSON.stringify({ a: 1 })].join(" "));
    return new Response(out.join("\n") + "\n");
  },
};
