// No raw sockets: WebSocket, connect() and cloudflare:sockets are absent in
// the top-level worker and in a child; `new WebSocket` is a ReferenceError.
const probe = `(() => {
  const out = ["WebSocket=" + typeof WebSocket, "connect=" + typeof connect, "WebSocketPair=" + typeof WebSocketPair,
    "EventSource=" + typeof EventSource, "XMLHttpRequest=" + typeof XMLHttpRequest, "navigator.sendBeacon=" + typeof navigator.sendBeacon];
  try { new WebSocket("ws://127.0.0.1:1/"); out.push("constructed"); } catch (e) { out.push(e.name + ": " + e.message); }
  return out.join(" ");
})()`;
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f() {
        const r = ${probe};
        let m; try { m = "imported " + Object.keys(await import("cloudflare:sockets")); } catch (e) { m = e.message; }
        return r + "\\n" + m;
      } }` } });
    return new Response("parent: " + eval_free_probe() + "\nchild: " + await w.getEntrypoint().f() + "\n");
  },
};
function eval_free_probe() {
  const out = ["WebSocket=" + typeof WebSocket, "connect=" + typeof connect, "WebSocketPair=" + typeof WebSocketPair,
    "EventSource=" + typeof EventSource, "XMLHttpRequest=" + typeof XMLHttpRequest, "navigator.sendBeacon=" + typeof navigator.sendBeacon];
  try { new WebSocket("ws://127.0.0.1:1/"); out.push("constructed"); } catch (e) { out.push(e.name + ": " + e.message); }
  return out.join(" ");
}
