// args: --memory-mb 16 --cpu-ms 5000
// exit: 1
// Unbounded async recursion keeps every frame alive in a pending promise:
// the memory limit ends it, even though each step is caught.
async function f(n) { await null; try { return await f(n + 1); } catch (e) { return f(n + 1); } }
export default { fetch() { return f(0); } };
