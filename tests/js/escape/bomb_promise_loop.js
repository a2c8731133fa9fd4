// args: --cpu-ms 100
// exit: 1
// A promise chain that re-schedules itself forever is stopped by the CPU
// limit even though each step is tiny.
export default { async fetch() { const f = () => Promise.resolve().then(f); f(); await new Promise(() => {}); } };
