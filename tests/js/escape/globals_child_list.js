// The complete list of global names a child sandbox sees (own properties
// of globalThis): standard built-ins and the documented web globals only.
// No corral internals (__corral*), no Node/Deno/Bun/QuickJS-shell names.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { f() {
        const names = Reflect.ownKeys(globalThis).map(String).sort();
        const hidden = names.filter((n) => /corral|^__|native|process|Deno|Bun|std$|^os$|scriptArgs|print|require|module/i.test(n));
        const proto = [];
        for (let p = Object.getPrototypeOf(globalThis); p; p = Object.getPrototypeOf(p)) proto.push(Reflect.ownKeys(p).map(String).sort().join(","));
        return names.join(" ") + "\\nsuspicious: " + JSON.stringify(hidden) + "\\nprototype chain: " + JSON.stringify(proto);
      } }` } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
