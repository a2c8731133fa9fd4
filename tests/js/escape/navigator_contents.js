// navigator tells a sandbox nothing about the host: the documented two
// values, no platform, language, memory or plugins, and no Navigator class.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { f() {
        const keys = [];
        for (let o = navigator; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) keys.push(Reflect.ownKeys(o).map(String).sort().join(","));
        return [JSON.stringify(keys), navigator.userAgent, navigator.hardwareConcurrency, typeof navigator.platform,
          typeof navigator.language, typeof navigator.deviceMemory, typeof navigator.userAgentData, typeof Navigator,
          Object.prototype.toString.call(navigator)].join("\\n");
      } }` } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
