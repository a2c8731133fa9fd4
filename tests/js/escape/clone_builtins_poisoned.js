// Values the clone treats specially, sent by a child that has tampered
// with the built-ins the clone reads: a SharedArrayBuffer (refused) and a
// view over one (copied as plain bytes),
// boxed primitives whose valueOf is replaced or throws, a Set iterator
// whose next never ends (the CPU limit), and typed-array tricks that this
// QuickJS does not have (transfer, resize). The child lives on.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 50 }, modules: {
      "m.js": `export default {
        sab() { return new SharedArrayBuffer(8); },
        sabView() { return new Int32Array(new SharedArrayBuffer(8)); },
        async sabArg(cb) { const s = new SharedArrayBuffer(4); const v = new Int32Array(s); try { await cb(s); } catch (e) { return e.name + ": " + e.message; } return "after: " + v[0]; },
        detach() { const buf = new ArrayBuffer(1 << 20); const o = { v: new Uint8Array(buf), get g() { buf.transfer(0); return 1; }, w: new Uint8Array(buf) }; return o; },
        detach2() { const buf = new ArrayBuffer(1 << 20); return [new Uint8Array(buf), { get g() { buf.transfer(0); return 1; } }, new Uint8Array(buf)]; },
        resize() { const buf = new ArrayBuffer(16, { maxByteLength: 1 << 20 }); const v = new Uint8Array(buf); return [{ get g() { buf.resize(1 << 20); return 1; } }, v, { get h() { buf.resize(0); return 2; } }, v]; },
        boxed() { const s = new String("x"); s.valueOf = () => ({ evil: 1 }); const n = new Number(1); n.valueOf = () => { throw new Error("valueOf boom"); }; return [s]; },
        boxedN() { const n = new Number(1); n.valueOf = () => { throw new Error("valueOf boom"); }; return n; },
        boxedProto() { String.prototype.valueOf = function () { return Symbol("s"); }; return new String("y"); },
        boxedBig() { BigInt.prototype.valueOf = function () { return {}; }; return Object(1n); },
        mapPush() { Array.prototype.push = function (...a) { for (const x of a) this[this.length] = x; this[this.length] = "extra"; return this.length; }; return new Map([["k", "v"]]); },
        setIter() { const it = Object.getPrototypeOf(new Set().values()); it.next = function () { return { done: false, value: 1 }; }; return new Set([1]); },
        alive() { return "alive"; },
      }` } });
    const e = w.getEntrypoint();
    const out = [];
    const show = (v) => v instanceof Map ? "Map " + JSON.stringify([...v]) : v instanceof Set ? "Set " + JSON.stringify([...v]) : ArrayBuffer.isView(v) ? Object.prototype.toString.call(v) + " " + v.length : Array.isArray(v) ? "[" + v.map(show).join(", ") + "]" : (v && typeof v === "object") ? Object.prototype.toString.call(v) + " " + JSON.stringify(v) : typeof v + " " + String(v);
    for (const m of ["sab", "sabView", "sabArg", "detach", "detach2", "resize", "boxed", "boxedN", "boxedProto", "boxedBig", "mapPush", "setIter", "alive"]) {
      try { out.push(m + ": " + show(await e[m]((x) => { new Int32Array(x)[0] = 42; return "written"; }))); } catch (err) { out.push(m + ": " + err.name + ": " + err.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
