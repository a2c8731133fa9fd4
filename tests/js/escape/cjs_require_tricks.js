// A CommonJS module in a child pokes at require and module for a way out:
// require with non-string names, names that carry a NUL, require.resolve,
// require.cache, module.constructor, module.require and the paths Node would
// search all fail or are absent; only names in the map load.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `import lib from "./lib.cjs"; export default { f() { return lib.probe(); } };`,
      "lib.cjs": { cjs: `
        exports.probe = () => {
          const out = [];
          for (const [label, f] of [["require(new String('/etc/passwd'))", () => require(new String("/etc/passwd"))],
            ["require({toString})", () => require({ toString() { return "../../etc/passwd"; } })],
            ["require(42)", () => require(42)], ["require()", () => require()],
            ["require('./ok.cjs\\\\0/../../x')", () => require("./ok.cjs\\0/../../x")],
            ["require('/proc/self/environ')", () => require("/proc/self/environ")],
            ["require.resolve", () => require.resolve("fs")], ["require.cache", () => Object.keys(require.cache)],
            ["require.main", () => require.main.filename], ["module.constructor._load", () => module.constructor._load("fs")],
            ["module.require", () => module.require("fs")], ["module.paths", () => module.paths.join(":")],
            ["module.parent", () => module.parent.filename], ["process.mainModule", () => process.mainModule]]) {
            try { out.push(label + " -> ok " + JSON.stringify(f())); }
            catch (e) { out.push(label + " -> " + e.name + ": " + e.message); }
          }
          out.push("module keys: " + JSON.stringify(Object.keys(module).sort()) + ", require keys: " + JSON.stringify(Object.keys(require)));
          return out.join("\\n");
        };` },
      "ok.cjs": { cjs: "module.exports = 'in the map';" },
    } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
