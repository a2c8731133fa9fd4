// args: --cpu-ms 100
// exit: 1
// A microtask that queues itself forever never yields to the loop: the CPU
// limit ends it.
export default { fetch() { const f = () => queueMicrotask(f); f(); return new Promise(() => {}); } };
