// args: --memory-mb 16 --cpu-ms 5000
// exit: 1
// Array(2**32-1) is a sparse array and costs nothing; filling it needs
// gigabytes and is stopped by the memory limit even though the error is
// caught.
export default { fetch() { const a = Array(2 ** 32 - 1); try { a.fill(0); } catch (e) {} return new Response(String(a.length)); } };
