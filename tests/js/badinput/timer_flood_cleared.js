// 10,000 timers set and cleared again; a string callback is refused.
export default {
  async fetch() {
    const ids = [];
    for (let i = 0; i < 10000; i++) ids.push(setTimeout(() => { throw new Error("cleared timer ran"); }, 0));
    for (const id of ids) clearTimeout(id);
    let s;
    try { setTimeout("globalThis.x = 1", 0); s = "string accepted"; } catch (e) { s = e.name + ": " + e.message; }
    await new Promise((r) => setTimeout(r, 5));
    return new Response(s + "\n" + typeof globalThis.x + "\n");
  },
};
