// A child calls a parent callback with arguments built to pollute the
// parent's prototypes, and mutates its own prototypes first: the parent
// receives plain data and its Object/Array/Function prototypes stay clean.
export default {
  async fetch(req, env) {
    const seen = [];
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f(cb) {
        Object.prototype.polluted = "child"; Array.prototype.polluted = "child"; Function.prototype.polluted = "child";
        Object.defineProperty(Object.prototype, "toJSON", { value() { return "hijacked"; }, configurable: true });
        await cb(JSON.parse('{"__proto__": {"polluted": 1}}'), [JSON.parse('{"__proto__": []}')], { constructor: { prototype: { polluted: 2 } } },
          Object.assign(Object.create(null), { polluted: 3 }), new Map([["__proto__", 4]]));
        return "done";
      } }` } });
    const r = await w.getEntrypoint().f((...args) => {
      for (const a of args) seen.push(Object.prototype.toString.call(a) + " " + (a instanceof Map ? JSON.stringify([...a]) : JSON.stringify(a)) +
        " proto=" + (Object.getPrototypeOf(a) === Object.prototype ? "Object" : Object.getPrototypeOf(a) === Array.prototype ? "Array" : Object.getPrototypeOf(a) === Map.prototype ? "Map" : String(Object.getPrototypeOf(a))));
      return null;
    });
    seen.push(r, "parent ({}).polluted=" + ({}).polluted + " [].polluted=" + [].polluted + " (()=>{}).polluted=" + (() => {}).polluted +
      " toJSON=" + typeof ({}).toJSON);
    return new Response(seen.join("\n") + "\n");
  },
};
