// import() from a child of every specifier that names something outside the
// module map, including ones built at run time (new URL, String objects,
// objects with toString): each rejects naming the specifier.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f() {
        const specs = ["/etc/passwd", "../../etc/passwd", "file:///etc/passwd", "./%2e%2e/x.js", "%2e%2e/%2e%2e/etc/passwd",
          ".\\\\..\\\\..\\\\etc\\\\passwd", "./sub/../../x.js", "node:fs", "fs", "std", "os", "qjs:std", "qjs:os",
          "data:text/javascript,export default 1", "http://127.0.0.1/x.js", "cloudflare:sockets",
          new URL("file:///etc/passwd"), new URL("../../../../etc/passwd", "file:///srv/app/m.js").href,
          { toString() { return "/etc/hostname"; } }];
        const out = [];
        for (const s of specs) {
          try { out.push(String(s) + " -> ok " + Object.keys(await import(s)).join(",")); }
          catch (e) { out.push(String(s) + " -> " + e.name + ": " + e.message); }
        }
        return out.join("\\n");
      } }`,
      "x.js": "export const x = 1;",
    } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
