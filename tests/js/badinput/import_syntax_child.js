// A syntax error in a non-main module of a loaded worker surfaces on the
// call, naming the module, line and column; the parent carries on.
const amsg = async (p) => { try { return "ok " + JSON.stringify(await p); } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "main.js", modules: {
      "main.js": `import { x } from "./lib/bad.js"; export default { f() { return x; } }`,
      "lib/bad.js": "export const x = 1;\n\nexport const y = {;\n",
    } });
    const out = [await amsg(w.getEntrypoint().f()), await amsg(w.getEntrypoint().f())];
    return new Response(out.join("\n") + "\n");
  },
};
