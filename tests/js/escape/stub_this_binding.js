// A child calls a parent callback with a `this` of its choosing (call,
// apply, Reflect.apply, a method of an object it built): the parent
// function always runs with `this` undefined, never the child's object and
// never the parent's globalThis, and gets copies of the arguments.
export default {
  async fetch(req, env) {
    const seen = [];
    function cb(x) { seen.push((this === undefined ? "undefined" : this === globalThis ? "the parent's globalThis" : typeof this + " " + JSON.stringify(this)) + " arg " + JSON.stringify(x)); return "ok"; }
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f(cb) {
        const me = { evil: 1, cb };
        const r = [await cb(1), await Function.prototype.call.call(cb, { evil: 2 }, 2), await Function.prototype.apply.call(cb, globalThis, [3]),
          await Reflect.apply(cb, me, [4]), await me.cb(5)];
        return r.map((v) => typeof v === "string" ? v : typeof v).join(" ");
      } }` } });
    let r;
    try { r = await w.getEntrypoint().f(cb); } catch (e) { r = e.name + ": " + e.message; }
    return new Response(seen.join("\n") + "\nchild: " + r + "\n");
  },
};
