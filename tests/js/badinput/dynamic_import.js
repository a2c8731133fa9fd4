// import() inside the module map works; outside it (missing, above the
// root, absolute, a built-in) it rejects with a message naming the module.
const amsg = async (p) => { try { return "ok " + JSON.stringify(await p); } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const run = (spec) => amsg(env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "main.js", modules: {
      "main.js": `export default { async f(s) { return (await import(s)).x; } }`,
      "x.js": "export const x = 'in the map';",
      "sub/y.js": "export const x = 'nested';",
    } }).getEntrypoint().f(spec));
    const out = [];
    for (const s of ["./x.js", "./sub/y.js", "./nope.js", "../outside.js", "/etc/passwd", "node:fs", "std", "os"]) out.push(s + " -> " + await run(s));
    // and from the top-level worker itself, whose map is its folder
    out.push("./modules/sibling.js -> " + await amsg(import("./modules/sibling.js").then((m) => m.x)));
    out.push("../loader/agent.js -> " + await amsg(import("../loader/agent.js").then((m) => m.x)));
    return new Response(out.join("\n") + "\n");
  },
};
