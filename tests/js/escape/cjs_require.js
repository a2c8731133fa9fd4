// require() in a CommonJS module of a child resolves only inside the module
// map: host files, paths above the root, and built-ins all throw naming the
// specifier, and the thrown error is catchable inside the child.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `import lib from "./lib.cjs"; export default { f() { return lib.probe(); } };`,
      "lib.cjs": { cjs: `
        exports.probe = () => {
          const out = [];
          for (const s of ["/etc/passwd", "../../etc/passwd", "file:///etc/passwd", "./%2e%2e/x.js", "fs", "node:fs",
            "child_process", "std", "os", "qjs:std", "./ok.cjs"]) {
            try { out.push(s + " -> ok " + JSON.stringify(require(s))); }
            catch (e) { out.push(s + " -> " + e.name + ": " + e.message); }
          }
          out.push("typeof process: " + typeof process + ", __filename: " + JSON.stringify(__filename) + ", __dirname: " + JSON.stringify(__dirname));
          return out.join("\\n");
        };` },
      "ok.cjs": { cjs: "module.exports = 'in the map';" },
    } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
