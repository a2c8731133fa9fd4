// A JSON module and an env value carrying "__proto__" keys become plain own
// data in the child: no prototype in the child or the parent changes.
export default {
  async fetch(req, env) {
    const evil = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}');
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { EVIL: evil }, modules: {
      "m.js": `import data from "./d.json"; export default { f(a, env) { return this.g(env); }, g(env) {
        return [JSON.stringify(data), Object.hasOwn(data, "__proto__"), ({}).polluted, [].polluted, data.polluted,
          JSON.stringify(env.EVIL), Object.hasOwn(env.EVIL, "__proto__"), env.EVIL.polluted, Object.getPrototypeOf(env.EVIL) === Object.prototype].map(String).join(" ");
      } }`,
      "d.json": { json: evil },
    } });
    const r = await w.getEntrypoint().g();
    return new Response("child: " + r + "\nparent: " + ({}).polluted + " " + [].polluted + " " + Object.getOwnPropertyNames(Object.prototype).includes("polluted") + "\n");
  },
};
