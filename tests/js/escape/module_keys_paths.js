// Module names that look like host paths are only names in the map: load()
// either refuses them or serves the map's own text; nothing is read from the
// host file system.
const amsg = async (f) => { try { return "ok " + JSON.stringify(await f()); } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const out = [];
    for (const key of ["../outside.js", "/etc/passwd.js", "sub/../../escape.js", "a//b.js", "file:///etc/x.js", "%2e%2e/y.js", "node:fs.js"]) {
      const r = await amsg(async () => {
        const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
          "m.js": `export default { async f(k) { return (await import(k)).where; } };`,
          [key]: "export const where = 'from the map';",
        } });
        return w.getEntrypoint().f(key);
      });
      out.push(key + " -> " + r);
    }
    return new Response(out.join("\n") + "\n");
  },
};
