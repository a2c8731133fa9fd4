// A syntax error inside a CommonJS module: the message must name the module, line and column.
const amsg = async (p) => { try { return "ok " + JSON.stringify(await p); } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "main.js", modules: {
      "main.js": `import c from "./lib/c.cjs"; export default { f() { return c; } }`,
      "lib/c.cjs": { cjs: "exports.a = 1;\nmodule.exports = 1 +;\n" } } });
    return new Response(await amsg(w.getEntrypoint().f()) + "\n");
  },
};
