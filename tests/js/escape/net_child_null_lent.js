// args: --allow-net=127.0.0.1:1
// The top-level worker is lent the network, but a child loaded with
// globalOutbound: null is not: its fetch() is refused with the reference's
// message, while the parent's own fetch reaches the (closed) port.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f() { try { await fetch("http://127.0.0.1:1/"); return "fetched"; } catch (e) { return e.name + ": " + e.message; } } }` } });
    const mine = await fetch("http://127.0.0.1:1/").then(() => "fetched", (e) => e.name + ": " + e.message.replace(/after \d+ ms/, "after N ms"));
    return new Response("child: " + await w.getEntrypoint().f() + "\nparent: " + mine + "\n");
  },
};
