// args: --memory-mb 16
// exit: 1
// A string of 64 MiB is within QuickJS's length limit but not the memory
// limit: the invocation ends with MemoryLimitError even though the
// allocation failure is caught.
export default { fetch() { let s; try { s = "x".repeat(64 * 1024 * 1024); } catch (e) {} return new Response(String(s && s.length)); } };
