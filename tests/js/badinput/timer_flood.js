// 10,000 zero-delay intervals, then the handler returns: the answer is
// delivered and `corral run` exits (pending timers do not keep it alive).
let ticks = 0;
export default {
  async fetch() {
    for (let i = 0; i < 10000; i++) setInterval(() => { ticks++; }, 0);
    await new Promise((r) => setTimeout(r, 5));
    return new Response(ticks > 0 ? "intervals ran, returned" : "no tick");
  },
};
