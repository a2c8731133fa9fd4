// Values at the edges of the wire format cross exactly or are refused by
// name: BigInts past 64 bits, -0, NaN, lone surrogates and NUL in keys and
// strings, an invalid Date, a RegExp with every flag, a view over a
// SharedArrayBuffer (copied: the parent's write does not reach the child).
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `const sab = new Int32Array(new SharedArrayBuffer(8));
      export default { f() { return { big: [2n ** 64n + 1n, -(2n ** 200n)], negz: -0, nan: NaN, s: "a\\ud800b\\u0000c", ["k\\u0000\\udfff"]: 1,
        date: new Date(NaN), re: /x/dgimsuy, view: sab }; }, g() { return sab[0]; } }` } });
    const e = w.getEntrypoint();
    const v = await e.f();
    v.view[0] = 99;
    return new Response([v.big.map(String).join(" "), Object.is(v.negz, -0), Number.isNaN(v.nan), JSON.stringify(v.s), JSON.stringify(Object.keys(v)),
      String(v.date), String(v.re), Object.prototype.toString.call(v.view), "child's view after the parent wrote: " + await e.g()].join("\n") + "\n");
  },
};
