// Code generation from strings inside a child: direct and indirect eval,
// every Function constructor however it is reached, timers with string
// callbacks and import() of data: URLs all fail; nothing is evaluated.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `globalThis.hit = 0;
      export default { async f() {
        const out = [];
        const t = (label, fn) => { try { out.push(label + ": returned " + fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); } };
        t("eval", () => eval("hit++"));
        t("indirect eval", () => (0, eval)("hit++"));
        t("globalThis.eval", () => globalThis["ev" + "al"]("hit++"));
        t("Function", () => Function("return hit++")());
        t("Reflect.construct(Function)", () => Reflect.construct(Function, ["return hit++"])());
        t("Function.prototype.constructor", () => Function.prototype.constructor("return hit++")());
        t("(async function(){}).constructor", () => (async function () {}).constructor("hit++"));
        t("GeneratorFunction", () => (function* () {}).constructor("hit++")().next());
        t("AsyncGeneratorFunction", () => (async function* () {}).constructor("hit++"));
        t("class ctor ctor", () => (class {}).constructor("return hit++")());
        t("bound", () => Function.bind(null, "return hit++")()());
        t("setTimeout string", () => setTimeout("hit++", 0));
        t("setInterval string", () => setInterval("hit++", 0));
        t("RegExp is not code", () => new RegExp("(?:)").source);
        t("JSON reviver is not code", () => JSON.parse('"hit++"'));
        try { await import("data:text/javascript,globalThis.hit++"); out.push("data import ran"); } catch (e) { out.push("data import: " + e.message); }
        await new Promise((r) => setTimeout(r, 5));
        out.push("hit: " + hit);
        return out.join("\\n");
      } }` } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
