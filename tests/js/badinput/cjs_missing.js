// require() of a CommonJS module that is not in the module map fails with a
// message naming the specifier and the requiring module; so does require()
// of a Node.js built-in, and of a path above the root.
const amsg = async (p) => { try { return "ok " + JSON.stringify(await p); } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const run = (src) => amsg(env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "main.js", modules: {
      "main.js": `import c from "./lib/c.cjs"; export default { f() { return c; } }`,
      "lib/c.cjs": { cjs: src },
      "lib/ok.cjs": { cjs: "module.exports = 'ok';" },
    } }).getEntrypoint().f());
    const out = [
      await run("module.exports = require('./ok.cjs');"),
      await run("module.exports = require('./missing.cjs');"),
      await run("module.exports = require('node:fs');"),
      await run("module.exports = require('../../up.cjs');"),
      await run("let r; try { require('./missing.cjs'); } catch (e) { r = 'caught ' + e.name; } module.exports = r;"),
    ];
    return new Response(out.join("\n") + "\n");
  },
};
