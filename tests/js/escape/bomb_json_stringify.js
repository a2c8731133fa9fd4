// args: --memory-mb 64 --cpu-ms 200
// exit: 1
// JSON.stringify of a small DAG that expands to 2**30 leaves: the memory
// CPU limit ends it before the string reaches the memory limit.
export default { fetch() { let a = [1]; for (let i = 0; i < 30; i++) a = [a, a]; let s; try { s = JSON.stringify(a); } catch (e) {} return new Response(String(s && s.length)); } };
