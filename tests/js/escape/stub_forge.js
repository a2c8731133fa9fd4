// A child cannot copy or forge a stub: structuredClone refuses it, objects
// built on it (Object.create, a Proxy, a look-alike) reach the parent as
// plain data or named errors, and the parent's real function runs only
// when the real stub is called.
let calls = 0;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f(cb, echo) {
        const out = [];
        const t = async (label, fn) => { try { const v = await fn(); out.push(label + ": " + (typeof v === "function" ? "function" : JSON.stringify(v))); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); } };
        await t("structuredClone(cb)", () => structuredClone(cb));
        await t("echo(Object.create(cb))", () => echo(Object.create(cb)));
        await t("echo(new Proxy(cb, {}))", () => echo(new Proxy(cb, {})));
        await t("echo({index: 0, kind: 'stub'})", () => echo({ index: 0, kind: "stub", __stub: 1 }));
        await t("Object.create(cb).x()", () => Object.create(cb).x());
        return out.join("\\n");
      } }` } });
    const r = await w.getEntrypoint().f(() => { calls++; return "real"; }, (v) => (typeof v === "function" ? "parent got a function" : "parent got " + JSON.stringify(v)));
    return new Response(r + "\nreal callback calls: " + calls + "\n");
  },
};
