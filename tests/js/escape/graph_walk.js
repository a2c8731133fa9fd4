// Walks everything reachable from the top-level worker's and a child's
// globalThis, env, ctx, request and stubs (own string and symbol keys,
// prototypes, getters' and setters' functions — getters are not invoked)
// looking for corral's internals: no key names the runtime, its installer,
// a native or a raw call; the only names the filter catches are QuickJS's
// own InternalError, Object.__getClass and String.prototype.__quote.
import { walk } from "./graph_walk_helper.js";
// The child gets the same walker as source text: it has no module to import.
const walker = walk.toString();
export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { CB: () => 1 }, modules: {
      "m.js": `export default { f(cb, env, ctx) { return (${walker})([["globalThis", globalThis], ["env", env], ["ctx", ctx], ["cb", cb]]); } };` } });
    const mine = await import("./graph_walk_helper.js").then((m) => m.walk([["globalThis", globalThis], ["env", env], ["ctx", ctx], ["req", req]]), (e) => e.message);
    return new Response("top level: " + mine + "\nchild: " + await w.getEntrypoint().f(() => 2) + "\n");
  },
};
