// A child plants setters on Object.prototype and Array.prototype for the
// names of the values it is about to receive: decoding the
// parent's arguments and answers defines own properties and never runs
// them, so the child's setters see nothing and the values arrive whole.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `globalThis.caught = "";
      for (const k of ["a", "secret", "name", "message", "size", "arr", "list", "err"]) {
        for (const P of [Object.prototype, Array.prototype]) Object.defineProperty(P, k, { set(v) { caught += k + " "; }, configurable: true });
      }
      export default { async f(x, cb) {
        const back = await cb();
        return [JSON.stringify(x), JSON.stringify(back), x.err.name + ": " + x.err.message, "caught: " + JSON.stringify(caught)].join("\\n");
      } }` } });
    const r = await w.getEntrypoint().f({ a: 1, secret: "s", list: ["x", "y"], err: new RangeError("m"), map: new Map([["k", 1]]) }, () => ({ a: 2, arr: [3, 4] }));
    return new Response(r + "\n");
  },
};
