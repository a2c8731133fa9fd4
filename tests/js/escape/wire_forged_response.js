// A child makes `instanceof Response` true for plain objects so that its
// fetch handler's forged responses are packed as if real: an out-of-range
// status, header names and values with CR/LF, a status text with CR/LF,
// headers that are not pairs, a body that is not bytes. The parent
// rebuilds each as a real Response and refuses every invalid one.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `Object.defineProperty(Response, Symbol.hasInstance, { value: (v) => v != null && v.forged === 1 });
      export default { fetch(req) { const which = new URL(req.url).pathname;
        if (which === "/status") return { forged: 1, status: 99999, statusText: "x", headers: [], arrayBuffer() { return new ArrayBuffer(1); } };
        if (which === "/header") return { forged: 1, status: 200, statusText: "ok", headers: [["bad\\r\\nname", "v"]], arrayBuffer() { return new ArrayBuffer(1); } };
        if (which === "/value") return { forged: 1, status: 200, statusText: "ok", headers: [["x-a", "v\\r\\nInjected: 1"]], arrayBuffer() { return new ArrayBuffer(1); } };
        if (which === "/notpairs") return { forged: 1, status: 200, statusText: "ok", headers: 5, arrayBuffer() { return new ArrayBuffer(1); } };
        if (which === "/body") return { forged: 1, status: 200, statusText: "ok", headers: [], arrayBuffer() { return "not bytes"; } };
        if (which === "/statustext") return { forged: 1, status: 200, statusText: "a\\r\\nb", headers: [], arrayBuffer() { return new ArrayBuffer(0); } };
        return { forged: 1, status: "200", statusText: { toString() { return "x"; } }, headers: [], arrayBuffer() { return new ArrayBuffer(0); } };
      } }` } });
    const out = [];
    for (const p of ["/status", "/header", "/value", "/notpairs", "/body", "/statustext", "/str"]) {
      try { const r = await w.getEntrypoint().fetch("http://x" + p); out.push(p + ": " + r.status + " " + JSON.stringify([...r.headers]) + " " + JSON.stringify(r.statusText) + " " + (await r.text()).length); }
      catch (e) { out.push(p + ": " + e.name + ": " + e.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
