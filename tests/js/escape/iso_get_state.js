// get(id) keeps module state for that id only: another id, load(), and an
// anonymous get() start fresh even from the same code, and getCode is not
// called again for a cached id even if it would return other code.
export default {
  async fetch(req, env) {
    const code = (tag) => () => ({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null,
      modules: { "m.js": `let n = 0; export default { n() { globalThis.g = (globalThis.g || 0) + 1; return "${tag} " + ++n + " " + g; } };` } });
    const out = [];
    for (const [label, stub] of [["get a", env.LOADER.get("a", code("A"))], ["get a again, other code", env.LOADER.get("a", code("EVIL"))],
      ["get b", env.LOADER.get("b", code("B"))], ["get a third", env.LOADER.get("a", code("A"))], ["load", env.LOADER.load(code("L")())],
      ["get null", env.LOADER.get(null, code("N"))], ["get undefined", env.LOADER.get(undefined, code("U"))]]) {
      out.push(label + ": " + await stub.getEntrypoint().n());
    }
    return new Response(out.join("\n") + "\n");
  },
};
