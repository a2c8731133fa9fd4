// Proxies crossing the boundary: the parent never receives a Proxy or runs
// a trap; a revoked Proxy, a Proxy whose traps throw and a Proxy of a
// function are refused with named errors; traps that loop hit the CPU limit.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 50 }, modules: {
      "m.js": `export default {
        plain() { return new Proxy({ a: 1 }, {}); },
        lying() { return new Proxy({}, { ownKeys() { return ["a", "b"]; }, getOwnPropertyDescriptor(t, k) { return { value: k, enumerable: true, configurable: true }; }, get(t, k) { return "trap " + String(k); } }); },
        throwing() { return new Proxy({}, { ownKeys() { throw new RangeError("trap boom"); }, getPrototypeOf() { throw new RangeError("proto trap boom"); } }); },
        revoked() { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; },
        fn() { return new Proxy(function () {}, {}); },
        array() { return new Proxy([1, 2], {}); },
        loop() { return new Proxy({}, { getPrototypeOf() { for (;;) {} } }); },
      }` } });
    const e = w.getEntrypoint();
    const out = [];
    for (const m of ["plain", "lying", "throwing", "revoked", "fn", "array", "loop"]) {
      try { const v = await e[m](); out.push(m + ": " + (typeof v === "function" ? "a " + typeof v + " stub" : Object.prototype.toString.call(v) + " " + JSON.stringify(v))); }
      catch (err) { out.push(m + ": " + err.name + ": " + err.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
