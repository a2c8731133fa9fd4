// import.meta carries nothing from the host in the top-level worker or a
// child: no url (so no host path), no resolve, no main flag.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { f() { return Reflect.ownKeys(import.meta).map(String).join(",") + "|" + typeof import.meta.url + "|" + typeof import.meta.resolve + "|" + Object.getPrototypeOf(import.meta); } };` } });
    const mine = Reflect.ownKeys(import.meta).map(String).join(",") + "|" + typeof import.meta.url + "|" + typeof import.meta.resolve + "|" + Object.getPrototypeOf(import.meta);
    return new Response("parent: " + mine + "\nchild: " + await w.getEntrypoint().f() + "\n");
  },
};
