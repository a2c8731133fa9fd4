// Walks everything reachable from the top-level worker's and a child's
// globalThis, env, ctx, request and stubs (own string and symbol keys,
// prototypes, getters' and setters' functions — getters are not invoked)
// looking for corral's internals: no key names the runtime, its installer,
// a native or a raw call; the only names the filter catches are QuickJS's
// own InternalError, Object.__getClass and String.prototype.__quote.
const walker = `(roots) => {
  const seen = new Set(), bad = [], queue = [...roots];
  const allowed = /^(__proto__|__defineGetter__|__defineSetter__|__lookupGetter__|__lookupSetter__)$/;
  let n = 0;
  while (queue.length && n < 20000) {
    const [path, v] = queue.shift();
    if ((typeof v !== "object" && typeof v !== "function") || v === null || seen.has(v)) continue;
    seen.add(v); n++;
    let keys; try { keys = Reflect.ownKeys(v); } catch (e) { continue; }
    for (const k of keys) {
      const name = String(k);
      if (/corral|native|install|^_|internal|rawCall|loopback/i.test(name) && !allowed.test(name)) bad.push(path + "." + name);
      let d; try { d = Reflect.getOwnPropertyDescriptor(v, k); } catch (e) { continue; }
      if (!d) continue;
      for (const x of [d.value, d.get, d.set]) if (x !== undefined) queue.push([path + "." + name, x]);
    }
    try { queue.push([path + ".[[Prototype]]", Object.getPrototypeOf(v)]); } catch (e) {}
  }
  return (n > 500 ? "walked more than 500 objects" : "walked " + n) + ", suspicious: " + JSON.stringify(bad);
}`;
export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { CB: () => 1 }, modules: {
      "m.js": `export default { f(cb, env, ctx) { return (${walker})([["globalThis", globalThis], ["env", env], ["ctx", ctx], ["cb", cb]]); } };` } });
    const mine = await import("./graph_walk_helper.js").then((m) => m.walk([["globalThis", globalThis], ["env", env], ["ctx", ctx], ["req", req]]), (e) => e.message);
    return new Response("top level: " + mine + "\nchild: " + await w.getEntrypoint().f(() => 2) + "\n");
  },
};
