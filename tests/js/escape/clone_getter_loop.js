// A getter that never returns, run while a child's result is cloned, is
// stopped by the child's CPU limit: the parent's call rejects with
// CpuLimitError and the parent goes on.
// A child's limit error as the parent sees it: its name, and whether the
// message is one of the two corral wordings (the limit with its value, or
// "discarded after it exceeded a limit (Name)").
const lim = (err) => err.name + (new RegExp("^The worker (exceeded its (CPU time|memory) limit of \\d+ (ms|bytes)|was discarded after it exceeded a limit \\(" + err.name + "\\))\\.$").test(err.message) ? " (limit message)" : ": " + err.message);
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 50 }, modules: {
      "m.js": `export default { f() { return { get x() { while (true) {} } }; }, g(cb) { return cb({ get x() { for (;;) {} } }); } }` } });
    const e = w.getEntrypoint();
    const out = [];
    try { out.push("result: " + JSON.stringify(await e.f())); } catch (err) { out.push("result getter: " + lim(err)); }
    let called = 0;
    try { out.push("argument: " + JSON.stringify(await e.g(() => { called++; }))); } catch (err) { out.push("argument getter: " + lim(err)); }
    out.push("callback ran: " + called);
    return new Response(out.join("\n") + "\n");
  },
};
