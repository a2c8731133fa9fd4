// A child whose module statically imports something outside its module map
// (an absolute path, a path above the root, a file: URL, a percent-encoded
// dot segment, a QuickJS or Node built-in) never starts: every call rejects
// with an error naming the specifier, and no host file is read.
const specs = ["/etc/passwd", "../../etc/passwd", "file:///etc/passwd", "./%2e%2e/x.js", "./%2E%2E/%2e%2e/etc/passwd",
  "node:fs", "fs", "std", "os", "qjs:std", "qjs:os", "qjs:bjson", "child_process", "cloudflare:sockets", "/proc/self/environ"];
export default {
  async fetch(req, env) {
    const out = [];
    for (const s of specs) {
      const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null,
        modules: { "m.js": `import * as x from ${JSON.stringify(s)};\nexport default { f() { return Object.keys(x); } };` } });
      try { out.push(s + " -> ok " + JSON.stringify(await w.getEntrypoint().f())); }
      catch (e) { out.push(`${s} -> ${e.name}: ${e.message}`); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
