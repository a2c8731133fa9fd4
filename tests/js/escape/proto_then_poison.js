// args: --wall-ms 3000
// A child replaces Promise.prototype.then and Promise[Symbol.species]
// before calling a parent callback and before its method returns: the
// call still crosses, the child's answer still reaches the parent, no
// parent code runs but the callback, and the parent's promises are
// untouched.
export default {
  async fetch(req, env) {
    let calls = 0;
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default {
        async f(cb) {
          const before = await cb("before");
          Promise.prototype.then = function (a, b) { return "hijacked"; };
          Object.defineProperty(Promise, Symbol.species, { get() { return function () { throw new Error("species"); }; } });
          const p = cb("after");
          return { before, after: typeof p };
        },
        alive() { return "alive"; },
      }` } });
    const out = [];
    for (const m of ["f", "alive"]) {
      try { out.push(m + ": " + JSON.stringify(await w.getEntrypoint()[m]((x) => { calls++; return "parent saw " + x; }))); }
      catch (e) { out.push(m + ": " + e.name + ": " + e.message); }
    }
    out.push("parent callback calls: " + calls, "parent then works: " + await Promise.resolve(7).then((x) => x * 6));
    return new Response(out.join("\n") + "\n");
  },
};
