// The other direction: a parent that pollutes its own prototypes, then
// loads a child and passes it objects with polluted or hostile prototypes,
// changes nothing in the child: the child's built-ins are fresh and it gets
// own data only.
export default {
  async fetch(req, env) {
    Object.prototype.polluted = "parent"; Array.prototype.polluted = "parent"; Function.prototype.polluted = "parent";
    Object.defineProperty(Object.prototype, "isAdmin", { get() { return true; }, configurable: true });
    const realThen = Promise.prototype.then;
    const cls = new (class Secret { constructor() { this.x = 1; } hidden() { return "s3cret"; } })();
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { OBJ: Object.create({ inherited: "parent" }, { own: { value: 1, enumerable: true } }) }, modules: {
      "m.js": `export default { g(a, b, env) {
        return [({}).polluted, [].polluted, (() => {}).polluted, ({}).isAdmin, JSON.stringify(a), a.polluted, a.hidden, Object.getPrototypeOf(a) === Object.prototype,
          JSON.stringify(b), JSON.stringify(env.OBJ), env.OBJ.inherited, Object.getPrototypeOf(env.OBJ) === Object.prototype].map(String).join(" ");
      } }` } });
    const r = await w.getEntrypoint().g(cls, Object.assign(Object.create(null), { n: 2 }));
    delete Object.prototype.polluted; delete Array.prototype.polluted; delete Function.prototype.polluted; delete Object.prototype.isAdmin;
    return new Response("child sees: " + r + "\nparent's then untouched: " + (Promise.prototype.then === realThen) + "\n");
  },
};
