// A child loaded without globalOutbound inherits the parent's outbound; the
// top-level worker run without --allow-net has none, so the child's fetch()
// (including through a Request it builds itself) is refused too.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", modules: {
      "m.js": `export default { async f() {
        const out = [];
        for (const mk of [() => fetch("http://127.0.0.1:1/"), () => fetch(new Request("http://169.254.169.254/", { method: "PUT", body: "x" })),
          () => fetch("file:///etc/shadow")]) {
          try { await mk(); out.push("fetched"); } catch (e) { out.push(e.name + ": " + e.message); }
        }
        return out.join("\\n");
      } }` } });
    const mine = await fetch("http://127.0.0.1:1/").then(() => "fetched", (e) => e.name + ": " + e.message);
    return new Response(await w.getEntrypoint().f() + "\nparent: " + mine + "\n");
  },
};
