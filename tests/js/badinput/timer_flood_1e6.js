// exit: 1
// A million pending timeouts: timers hold host memory outside the heap
// limit, so their number is bounded (65536 pending per worker).
export default { fetch() { for (let i = 0; i < 1e6; i++) setTimeout(() => {}, 0); return new Response("returned\n"); } };
