// A child that receives the same parent function several times gets a new
// stub each time: it cannot use identity to learn which host functions are
// the same, and the parent's function is untouched.
function mine(x) { return "mine " + x; }
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `let kept; export default {
        keep(cb) { const same = kept === cb; kept = cb; return same; },
        pair(a, b) { return a === b; },
      }` } });
    const e = w.getEntrypoint();
    const out = [];
    out.push("child sees the same stub twice: " + (await e.keep(mine)) + " " + (await e.keep(mine)));
    out.push("same function twice in one call: " + await e.pair(mine, mine));
    out.push("parent's mine untouched: " + mine("y") + " " + Object.getPrototypeOf(mine).constructor.name);
    return new Response(out.join("\n") + "\n");
  },
};
